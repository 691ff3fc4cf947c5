"""What a user sees when the machine, not agentos, is the problem: a full or read-only disk, a
repository they cannot write; and the crash log, which must be written somewhere even then."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentos.cli.main import app
from agentos.demo import create_sample

from tests.helpers.inject import as_other_user, sitecustomize_env

FULL_DISK = """
import errno, os
def _full(fd):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
os.fsync = _full  # the first durable write finds the disk full
"""

STATUS_BUG = """
import agentos.commands.status as status
def _bug(*args, **kwargs):
    raise RuntimeError("a bug in status")
status.run_status = _bug
"""


def _orchestrate(repo: Path, env: dict[str, str], prefix: list[str] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "agentos.cli.orchestrate", "--issue", "1",
                           "--repo", str(repo), "--plain"], env=env, capture_output=True, text=True, timeout=300)


def test_a_full_disk_is_named_with_the_file_and_what_to_do(sample_repo, tmp_path):
    proc = _orchestrate(sample_repo, sitecustomize_env(tmp_path / "inject", FULL_DISK))
    assert proc.returncode == 2, proc.stderr
    assert "error: no space left on the device (ENOSPC): " + str(sample_repo / ".agentos") in proc.stderr
    assert "hint: free space there" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def _bug_in_status(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr("agentos.commands.status.run_status", boom)


def test_the_crash_log_falls_back_to_the_user_cache_when_the_repository_cannot_take_it(sample_repo, tmp_path,
                                                                                      monkeypatch):
    _bug_in_status(monkeypatch)
    (sample_repo / ".agentos" / "logs").write_text("a file where the logs folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    result = CliRunner().invoke(app, ["status", "1", "--repo", str(sample_repo)])
    assert result.exit_code == 1 and "internal error" in result.output
    log = Path(result.output.split("details in ")[1].strip())
    assert log.parent == tmp_path / "cache" / "agentos" / "logs"
    assert "RuntimeError: unexpected" in log.read_text()


def test_with_nowhere_to_write_a_crash_log_the_details_are_shown(sample_repo, tmp_path, monkeypatch):
    _bug_in_status(monkeypatch)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    (sample_repo / ".agentos" / "logs").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setattr(tempfile, "tempdir", str(blocker))
    result = CliRunner().invoke(app, ["status", "1", "--repo", str(sample_repo)])
    assert result.exit_code == 1
    assert "no crash log could be written" in result.output and "RuntimeError: unexpected" in result.output


@pytest.fixture
def shared_dir():
    """A folder another user can reach (pytest's own are private to the user running it)."""
    folder = Path(tempfile.mkdtemp(prefix="agentos-shared-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:  # give back the write permission a test took away
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


def test_a_repository_the_user_cannot_write(shared_dir):
    prefix = as_other_user()
    if prefix is None:
        pytest.skip("cannot run a command as a user without write access here")
    repo = create_sample(shared_dir / "repo")
    for path in [repo, *repo.rglob("*")]:  # readable by all, writable by none (its owner included)
        if not path.is_symlink():
            path.chmod(0o555 if path.is_dir() else 0o444)
    gitconfig = shared_dir / "gitconfig"
    gitconfig.write_text("[user]\n\tname = t\n\temail = t@example.invalid\n")
    cache = shared_dir / "cache"
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": str(gitconfig), "XDG_CACHE_HOME": str(cache), "HOME": str(cache)}

    if prefix:  # as another user than the owner, git itself refuses first
        refused = _orchestrate(repo, env, prefix)
        assert refused.returncode == 2 and "belongs to another user" in refused.stderr, refused.stderr
        assert f"safe.directory {repo}" in refused.stderr
    gitconfig.write_text(gitconfig.read_text() + "[safe]\n\tdirectory = *\n")  # the user trusts it
    proc = _orchestrate(repo, env, prefix)
    assert proc.returncode == 2, proc.stderr
    assert "error: permission denied (EACCES): " + str(repo / ".agentos") in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr

    crashed = subprocess.run([*prefix, sys.executable, "-m", "agentos.cli.main", "status", "1", "--repo", str(repo)],
                             env=sitecustomize_env(shared_dir / "inject", STATUS_BUG, env),
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == 1 and "internal error" in crashed.stderr, crashed.stderr
    log = Path(crashed.stderr.split("details in ")[1].strip())
    assert log.is_relative_to(cache) and "a bug in status" in log.read_text()


@pytest.fixture
def tiny_disk(shared_dir):
    """A 4 MB tmpfs (mounting needs root and the permission to mount; skipped otherwise)."""
    mount = shared_dir / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> None:
    """Write until the file system says it is full."""
    with (disk / "filler").open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


@pytest.mark.real_component
def test_a_really_full_disk_is_named_and_nothing_is_left_half_written(tiny_disk):
    repo = create_sample(tiny_disk / "repo")
    _fill(tiny_disk)
    proc = _orchestrate(repo, dict(os.environ))
    assert proc.returncode == 2, proc.stderr
    assert "error: no space left on the device (ENOSPC): " + str(repo / ".agentos") in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(repo.glob(".agentos/runs/*/.*.tmp"))  # the failed atomic write left nothing half-written


@pytest.mark.real_component
def test_a_read_only_file_system_is_named_and_the_crash_log_goes_elsewhere(sample_repo, tmp_path):
    if not shutil.which("bwrap"):
        pytest.skip("bubblewrap is not installed")
    read_only = ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(sample_repo), str(sample_repo)]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = _orchestrate(sample_repo, env, read_only)
    assert proc.returncode == 2, proc.stderr
    assert "error: the file system is read-only (EROFS): " + str(sample_repo / ".agentos") in proc.stderr
    assert "hint: agentos keeps its state in the repository's .agentos/ folder" in proc.stderr
    crashed = subprocess.run([*read_only, sys.executable, "-m", "agentos.cli.main", "status", "1", "--repo",
                              str(sample_repo)], env=sitecustomize_env(tmp_path / "inject", STATUS_BUG, env),
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == 1, crashed.stderr
    log = Path(crashed.stderr.split("details in ")[1].strip())
    assert log.is_relative_to(tmp_path / "cache") and "a bug in status" in log.read_text()


@pytest.mark.real_component
def test_a_full_disk_under_the_checkpoint_database_is_named(sample_repo, tiny_disk):
    from agentos.commands.gates import record_decision
    from agentos.workflows.orchestrator.session import RunOptions
    from tests.helpers.sample import edit_config

    edit_config(sample_repo, gates={"after_triage": True})
    assert _orchestrate(sample_repo, dict(os.environ)).returncode == 3
    record_decision(RunOptions(issue=1, repo=sample_repo), "approve", None)
    state_db = sample_repo / ".agentos" / "state.db"
    shutil.move(state_db, tiny_disk / "state.db")  # only the database on the small disk: SQLite fills it
    state_db.symlink_to(tiny_disk / "state.db")
    _fill(tiny_disk)
    proc = _orchestrate(sample_repo, dict(os.environ))
    assert proc.returncode == 2, proc.stderr
    assert f"error: no space left on the device (ENOSPC): {state_db}" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
