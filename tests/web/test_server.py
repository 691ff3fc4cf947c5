"""`agentos serve`: what it refuses, before anything is served."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentos.cli.main import app


def _serve(*args: str):
    return CliRunner().invoke(app, ["serve", *args])


def test_a_port_in_use_is_an_error_with_a_hint(sample_repo: Path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        result = _serve("--repo", str(sample_repo), "--port", str(port))
    finally:
        taken.close()
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "hint: pass --port" in result.output


def test_an_address_that_is_not_this_machines_is_an_error(sample_repo: Path):
    result = _serve("--repo", str(sample_repo), "--host", "no-such-host.invalid")
    assert result.exit_code == 2 and "cannot bind 'no-such-host.invalid'" in result.output
    assert _serve("--repo", str(sample_repo), "--port", "70000").exit_code == 2


def test_without_the_web_extra_it_says_what_to_install(sample_repo: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed
    result = _serve("--repo", str(sample_repo))
    assert result.exit_code == 2 and "needs uvicorn" in result.output and "agentos[web]" in result.output


def test_outside_a_repository_it_says_so(tmp_path: Path):
    result = _serve("--repo", str(tmp_path))
    assert result.exit_code == 2 and "not inside a git repository" in result.output


def test_beyond_loopback_the_real_server_prints_its_token_and_wants_it(sample_repo: Path):
    import re
    import signal
    import subprocess
    import urllib.error
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "agentos.cli.main", "serve", "--repo", str(sample_repo),
                             "--host", "0.0.0.0", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        printed = proc.stdout.readline() + proc.stdout.readline() + proc.stdout.readline()
        port, token = re.search(r":(\d+)/\?token=(\S+)", printed).groups()
        assert "keep it private" in printed
        base = f"http://127.0.0.1:{port}"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + "/api/runs")
        assert refused.value.code == 401
        asked = urllib.request.Request(base + "/api/runs", headers={"Authorization": f"Bearer {token}"})
        assert urllib.request.urlopen(asked).read() == b"[]"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0


def test_the_web_stack_is_imported_only_by_serve():
    import subprocess

    check = ("import sys, agentos.cli.main, agentos.cli.orchestrate; "
             "print(sorted(m for m in ('starlette', 'uvicorn', 'jinja2', 'pygments') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
