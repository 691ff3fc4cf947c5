"""The dashboard's pages and JSON, through Starlette's test client, on a real paused run."""

from __future__ import annotations

import json
import re
from pathlib import Path

from agentos import readmodel
from agentos.paths import RepoLayout
from tests.helpers.dashboard import HOSTILE_TITLE
from tests.web.conftest import client_for


def test_the_runs_page_lists_every_issues_latest_run_and_filters_by_status(shown_repo: Path):
    client, _ = client_for(shown_repo)

    page = client.get("/")
    assert page.status_code == 200
    row = re.search(r'<tr data-issue="1">(.*?)</tr>', page.text, re.S).group(1)
    assert "paused" in row and "after LLD" in row and "$0.0000" in row
    assert client.get("/?status=paused").text.count('data-issue="1"') == 1
    assert 'data-issue="1"' not in client.get("/?status=done").text
    assert "No run is done." in client.get("/?status=done").text


def test_the_json_behind_the_pages_is_the_read_models(shown_repo: Path):
    client, _ = client_for(shown_repo)
    layout = RepoLayout(shown_repo)

    listed = client.get("/api/runs").json()
    assert [r["run_id"] for r in listed] == [s.run_id for s in readmodel.list_runs(layout)]
    detail = client.get("/api/issues/1").json()
    expected = readmodel.as_json(readmodel.run_detail(layout, 1))
    for data in (detail, expected):
        data["gate"].pop("waiting_s")  # the clock moves between the two reads
    assert detail["gate"] == expected["gate"] and detail["stages"] == expected["stages"]
    assert detail["summary"]["title"] == HOSTILE_TITLE
    missing = client.get("/api/issues/7")
    assert missing.status_code == 404 and "no runs" in missing.json()["error"] and missing.json()["hint"]


def test_the_run_page_shows_the_stages_the_gate_form_and_what_to_do(shown_repo: Path):
    client, dash = client_for(shown_repo)

    page = client.get("/issues/1").text
    stages = re.findall(r'<tr data-stage="(\w+)">', page)
    assert stages == ["triage", "lld", "spec", "impl", "review", "pr"]
    assert re.search(r'data-stage="lld">.*?PASS.*?approved after 2 review round', page, re.S)
    assert 'name="gate" value="after_lld"' in page and f'name="csrf" value="{dash.guard.csrf}"' in page
    assert "agentos approve 1" in page
    assert client.get("/issues/1/summary").text.startswith('<div id="summary" data-status="paused"')


def test_untrusted_text_is_shown_as_text(shown_repo: Path):
    client, _ = client_for(shown_repo)

    for url in ("/", "/issues/1", "/issues/1/docs/lld", "/issues/1/code"):
        page = client.get(url).text
        assert "<img src=x" not in page and "<script>window" not in page, url
        assert "onerror=" not in re.sub(r"&lt;img[^<]*", "", page), url
    assert "&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;" in client.get("/").text
    lld = client.get("/issues/1/docs/lld").text
    assert "&lt;script&gt;window.__pwned=3&lt;/script&gt;" in lld
    assert "javascript:" not in lld.replace("(javascript:window.__pwned=5)", "")  # the link was not made
    json.loads(client.get("/api/runs").text)


def test_the_document_page_renders_the_markdown_beside_its_review_rounds(shown_repo: Path):
    client, _ = client_for(shown_repo)

    page = client.get("/issues/1/docs/lld").text
    document = re.search(r'<article class="doc" id="document">(.*?)</article>', page, re.S).group(1)
    assert "<h2>Files changed</h2>" in document and "<table>" in document
    rounds = re.findall(r'data-round="(\d+)"', page)
    assert rounds == ["1", "2"]
    first = page[page.index('data-round="1"'):page.index('data-round="2"')]
    assert "REVISE" in first and "F1" in first and "addressed" in first
    assert "Revision after round 1" in first and "Strip dashes from both ends" in first
    assert 'class="add"' in first
    assert "APPROVED" in page[page.index('data-round="2"'):]
    assert re.findall(r'data-round="(\d+)"', client.get("/issues/1/docs/triage").text) == ["1"]
    assert client.get("/issues/1/docs/spec").status_code == 200  # not written yet: said so
    assert "No Spec yet" in client.get("/issues/1/docs/spec").text
    assert client.get("/issues/1/docs/secrets").status_code == 404


def test_the_code_page_shows_the_branch_diff_per_file_highlighted(shown_repo: Path):
    client, _ = client_for(shown_repo)

    page = client.get("/issues/1/code").text
    files = re.findall(r'<details class="diff" open data-file="([^"]+)"', page)
    assert files == ["docs/agentos/issue-1/brief.md", "docs/agentos/issue-1/lld.md"]
    assert 'class="pg-' in page  # Pygments classes
    assert re.findall(r"<th title=\"[^\"]*\">([\w-]+)</th>", page) == ["base-commit"]  # the preflight's run
    assert re.search(r"test_lowercases</td><td class=\"s-PASS\">passed", page)


def test_the_cost_page_shows_calls_per_stage_and_model_and_the_budget(shown_repo: Path):
    client, _ = client_for(shown_repo)

    page = client.get("/issues/1/cost").text
    rows = re.findall(r"<tr><td>(\w+)</td><td class=\"mono\">([^<]+)</td><td class=\"num\">(\d+)</td>", page)
    assert ("LLD", "scripted:.agentos/scripted/drafter.yaml", "2") in rows
    assert ("LLD", "scripted:.agentos/scripted/reviewer.yaml", "2") in rows
    assert "no run budget set" in page


def test_no_secret_reaches_a_page(shown_repo: Path, monkeypatch):
    secret = "sk-dashboard-test-secret-4242"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    lld = shown_repo / ".agentos" / "worktrees" / "1" / "docs" / "agentos" / "issue-1" / "lld.md"
    original = lld.read_text()
    lld.write_text(original + f"\nThe key is {secret}.\n")
    record = next((shown_repo / ".agentos" / "runs").glob("*/run.json"))
    saved = record.read_text()
    record.write_text(saved.replace('"message": "', f'"message": "{secret} ', 1))
    try:
        client, _ = client_for(shown_repo)
        for url in ("/", "/issues/1", "/issues/1/docs/lld", "/api/runs", "/api/issues/1"):
            page = client.get(url).text
            assert secret not in page, url
        assert "[REDACTED:ANTHROPIC_API_KEY]" in client.get("/issues/1/docs/lld").text
        assert "[REDACTED:ANTHROPIC_API_KEY]" in client.get("/api/runs").text
    finally:
        lld.write_text(original)
        record.write_text(saved)


def test_every_response_forbids_inline_script():
    from agentos.web.guard import HEADERS

    policy = dict(HEADERS)[b"content-security-policy"].decode()
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_a_blocked_run_shows_its_blocker_and_what_to_do(tmp_path: Path):
    from agentos.demo import create_sample
    from tests.helpers.dashboard import run
    from tests.helpers.sample import edit_script

    repo = create_sample(tmp_path / "repo")
    edit_script(repo, "reviewer", "lld.review", [{"data": {
        "verdict": "BLOCKED", "summary": "The issue asks for two incompatible slugs.",
        "findings": [{"id": "F9", "section": "Context and goal", "severity": "blocking",
                      "text": "AC1 and AC3 <b>contradict</b> each other."}]}}])
    assert run(repo) == 4
    client, _ = client_for(repo)

    page = client.get("/issues/1").text
    blocker = re.search(r'<div class="box blocker" id="blocker">(.*?)</div>', page, re.S).group(1)
    assert "Blocked at LLD" in blocker and "F9" in blocker and "&lt;b&gt;contradict&lt;/b&gt;" in blocker
    assert "--resume-from lld" in page
    assert 'data-issue="1"' in client.get("/?status=blocked").text


def test_the_cost_page_sets_the_spend_against_the_budgets(paused_repo: Path):
    from tests.helpers.sample import edit_config

    edit_config(paused_repo, budget_usd=2.5, stages={"lld": {"budget_usd": 1.0}})
    client, _ = client_for(paused_repo)

    page = client.get("/issues/1/cost").text
    assert "$0.0000 spent of the run's budget $2.5000 (0%)" in page
    spend = re.search(r'<table class="spend">(.*?)</table>', page, re.S).group(1)
    assert re.search(r"<td>LLD</td><td class=\"num\">4</td><td class=\"num\">\$0.0000</td><td class=\"num\">\$1.0000</td>", spend)


def test_the_runs_page_shows_batch_records_with_their_totals(paused_repo: Path):
    from agentos.batch import record as batches

    layout = RepoLayout(paused_repo)
    batch = batches.new_batch(layout, "issues:1", "local", 2, 3.0, [(1, "slugify <b>dashes</b>")])
    entry = batch.entry(1)
    entry.status, entry.run_id = "paused", readmodel.latest_record(layout, 1).run_id
    batches.save(layout, batch)
    client, _ = client_for(paused_repo)

    page = client.get("/").text
    shown = re.search(r'<details class="box batch" data-batch="([^"]+)">(.*?)</details>', page, re.S)
    assert shown.group(1) == batch.batch_id
    assert "1 issue, paused 1;" in shown.group(2) and "cost $0.0000 of $3.0000" in shown.group(2)
    assert "slugify &lt;b&gt;dashes&lt;/b&gt;" in shown.group(2) and "LLD" in shown.group(2)
    assert client.get("/api/batches").json()[0]["totals"] == {"issues": 1, "paused": 1, "cost_usd": 0.0}
