"""The dashboard in a real browser: the system's headless Chromium, driven by Playwright, on a real
`agentos serve` process and a real run of the demo's sample (scripted models). The run is followed
from paused at its first gate, through both gates approved on the page, to its pull request; the
issue title and the LLD carry HTML that would run script if it were not shown as text.
Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.dashboard import HOSTILE_TITLE, paused_sample
from tests.llm.fakes.cli import gone

pytestmark = pytest.mark.real_component

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
WAIT_MS = 240_000
"""How long to wait for a background run to reach its next state (a busy CI machine is slow)."""


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs the system's Chromium: apt-get install chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def server(tmp_path: Path):
    """`agentos serve` on the sample, paused at gate after_lld, on a free port: (base URL, process, repo)."""
    repo = paused_sample(tmp_path / "repo", hostile=True)
    proc = subprocess.Popen([sys.executable, "-m", "agentos.cli.main", "serve", "--repo", str(repo), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        url = re.search(r"http://\S+", "".join(lines))
        assert url, lines
        yield url.group(0).rstrip("/"), proc, repo
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, caret="initial")  # hiding it injects a style


def _nothing_ran(page) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined", page.url


def test_a_run_from_its_first_gate_to_its_pull_request_in_the_browser(browser, server):
    base, proc, repo = server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)

    page.goto(base + "/")
    row = page.locator('tr[data-issue="1"]')
    assert "paused" in row.inner_text() and HOSTILE_TITLE in row.inner_text()
    _nothing_ran(page)
    _shot(page, "1-runs")

    page.click('tr[data-issue="1"] td.num a')
    page.wait_for_selector("#gate")
    assert "after LLD" in page.inner_text("#gate")
    _nothing_ran(page)
    _shot(page, "2-run-paused-after-lld")

    page.click("nav.tabs >> text=LLD")
    rounds = page.locator(".round")
    assert rounds.count() == 2
    first = rounds.nth(0).inner_text()
    assert "REVISE" in first and "F1" in first and "APPROVED" in rounds.nth(1).inner_text()
    page.click("text=Revision after round 1")
    assert page.locator("details.revision tr.add", has_text="Strip dashes from both ends").is_visible()
    assert "<script>window.__pwned=3</script>" in page.inner_text("#document")
    _nothing_ran(page)
    _shot(page, "3-lld-review-rounds")

    page.click("nav.tabs >> text=Run")
    page.click("#approve")
    page.locator("#gate", has_text="before pull request").wait_for(timeout=WAIT_MS)  # the live view refreshed
    _shot(page, "4-run-paused-before-pr")

    page.click("nav.tabs >> text=Code")
    slug = page.locator('details.diff[data-file="textkit/slug.py"]')
    assert slug.locator("tr.add").count() >= 1 and slug.locator("span[class^=pg-]").count() > 0
    assert "implementation" in page.text_content("table.tests thead")
    _nothing_ran(page)
    _shot(page, "5-code-diff-and-tests")

    page.click("nav.tabs >> text=Run")
    page.click("#approve")
    page.wait_for_selector('#summary[data-status="done"]', timeout=WAIT_MS)
    _shot(page, "6-run-done")
    page.click("nav.tabs >> text=Pull request")
    assert "slugify" in page.inner_text("#pr-body")
    _shot(page, "7-pull-request")
    page.goto(base + "/")
    page.click(".filters >> text=done (1)")  # htmx swaps the table in and keeps the address
    page.wait_for_url("**/?status=done")
    assert page.locator('tr[data-issue="1"]').count() == 1 and page.locator(".filters a.on").inner_text() == "done (1)"
    _nothing_ran(page)
    assert list((repo / ".agentos" / "pulls").glob("*.md"))
    assert problems == [], problems

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0


def test_stopping_the_server_ends_the_run_it_was_continuing(server):
    from tests.helpers.sample import edit_config

    base, proc, repo = server
    # The continued run's first test command never ends: it is still going when the server stops.
    edit_config(repo, stages={"implementation": {"test_command": "sleep 600"}})
    import urllib.parse
    import urllib.request

    page = urllib.request.urlopen(base + "/issues/1").read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf": csrf, "gate": "after_lld", "action": "approve"}).encode()
    urllib.request.urlopen(urllib.request.Request(base + "/issues/1/gate", data=form))
    child = _child_of(proc.pid)
    assert child is not None

    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "stopped the runs the dashboard was continuing: #1" in output
    assert gone(child)


def _child_of(pid: int) -> int | None:
    """A process whose parent is `pid` (the run the server started), from /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            return int(stat.parent.name)
    return None
