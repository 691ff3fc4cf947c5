"""The dashboard's pages and the JSON behind them, as a Starlette application.

Every page reads runs through the read model (agentos/readmodel), the same functions as
`agentos status`, `runs` and `show`; the only state this module keeps is the server's own (its
tokens and the runs it continues). Handlers are thin: read, then render a template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from agentos import readmodel, runs
from agentos.config import load_config
from agentos.errors import AgentosError, ConfigError, UsageError
from agentos.paths import RepoLayout
from agentos.redact import current as current_redactor, redact
from agentos.readmodel import evidence
from agentos.web import live, render
from agentos.web.gates import Continuations, decide
from agentos.web.guard import Guard, GuardMiddleware
from agentos.web.listing import RunsListing

HTMX = "htmx-2.0.11.min.js"
DOC_KINDS = {"triage": "Issue brief", "lld": "LLD", "spec": "Spec"}
BATCHES_SHOWN = 5
"""The runs page shows this many of the newest batches (all of them: /api/batches has the same few)."""


@dataclass
class Dashboard:
    """What the application serves: one repository's runs, behind one guard."""

    layout: RepoLayout
    guard: Guard
    continuations: Continuations
    listing: RunsListing

    @classmethod
    def on(cls, layout: RepoLayout, host: str) -> Dashboard:
        """The dashboard of the repository at `layout`, guarded as binding `host` requires."""
        return cls(layout, Guard.for_host(host), Continuations(layout), RunsListing(layout))


def build_app(dash: Dashboard) -> Starlette:
    """The ASGI application for `dash`, every route behind its guard."""
    package = resources.files("agentos.web")
    pages = Pages(dash, _templates(Path(str(package / "templates")), dash))
    routes = [
        Route("/", pages.runs, name="runs_page"),
        Route("/issues/{issue:int}", pages.run, name="run_page"),
        Route("/issues/{issue:int}/summary", pages.summary, name="summary_part"),
        Route("/issues/{issue:int}/events", pages.events, name="events_stream"),
        Route("/issues/{issue:int}/docs/{kind}", pages.doc, name="doc_page"),
        Route("/issues/{issue:int}/code", pages.code, name="code_page"),
        Route("/issues/{issue:int}/cost", pages.cost, name="cost_page"),
        Route("/issues/{issue:int}/pr", pages.pr, name="pr_page"),
        Route("/issues/{issue:int}/gate", pages.gate, methods=["POST"], name="decide_gate"),
        Route("/api/runs", pages.api_runs, name="api_runs"),
        Route("/api/issues/{issue:int}", pages.api_run, name="api_run"),
        Route("/api/batches", pages.api_batches, name="api_batches"),
        Route("/code.css", pages.code_css, name="code_css"),
        Mount("/static", StaticFiles(directory=str(package / "static")), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(GuardMiddleware, guard=dash.guard)],
                     exception_handlers={AgentosError: pages.refused})


def _templates(folder: Path, dash: Dashboard) -> Jinja2Templates:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=True, finalize=render.finalize)
    env.filters.update(render.FILTERS)
    env.globals.update(
        stage_label=readmodel.stage_label, gate_label=readmodel.gate_label, diff_files=render.diff_files,
        pr_link=render.pr_link, exit_name=render.exit_name, htmx_file=HTMX, csrf=dash.guard.csrf, repo=str(dash.layout.root),
        doc_tabs=list(DOC_KINDS.items()))
    return Jinja2Templates(env=env)


class Pages:
    """The handlers: each reads through the read model and renders one template (or JSON). They
    are plain functions, which Starlette runs in its thread pool: reading files and git must not
    stall the event loop that streams live events."""

    def __init__(self, dash: Dashboard, templates: Jinja2Templates):
        self.dash, self.layout, self.templates = dash, dash.layout, templates

    def _page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        return self.templates.TemplateResponse(request, name, {**context, "redactor": current_redactor()},
                                               status_code=status_code)

    def runs(self, request: Request) -> Response:
        summaries = self.dash.listing.summaries()
        status = request.query_params.get("status") or ""
        counts: dict[str, int] = {}
        for s in summaries:
            counts[s.status] = counts.get(s.status, 0) + 1
        shown = [s for s in summaries if s.status == status] if status else summaries
        return self._page(request, "runs.html.j2", summaries=shown, status=status, total=len(summaries),
                          counts=sorted(counts.items()), batches=self._batches())

    def _batches(self) -> list[dict[str, Any]]:
        """The newest batches with their rows and totals, as `agentos batch status --json` gives them."""
        from agentos.batch.record import all_batches
        from agentos.batch.view import batch_info

        return [batch_info(self.layout, b) for b in reversed(all_batches(self.layout)[-BATCHES_SHOWN:])]

    def run(self, request: Request, error: str = "", status_code: int = 200) -> Response:
        issue = request.path_params["issue"]
        d = readmodel.run_detail(self.layout, issue)
        return self._page(request, "run.html.j2", status_code, **self._run_context(d, "run"), error=error)

    def summary(self, request: Request) -> Response:
        d = readmodel.run_detail(self.layout, request.path_params["issue"])
        return self._page(request, "_summary.html.j2", **self._run_context(d, "run"))

    def _run_context(self, d: readmodel.RunDetail, tab: str) -> dict[str, Any]:
        record = runs.latest(self.layout, d.summary.issue, kind=None)
        decided = runs.take_decision(self.layout, record) if record and d.gate else None
        return {"d": d, "s": d.summary, "tab": tab, "decided": decided,
                "continuation": self.dash.continuations.get(d.summary.issue)}

    def events(self, request: Request) -> Response:
        issue = request.path_params["issue"]
        record = readmodel.latest_record(self.layout, issue)
        offset = int(request.headers.get("last-event-id") or 0)
        job = self.dash.continuations.get(issue)

        folder = self.layout.run_dir(record.run_id)

        def is_live() -> bool:
            now = runs.load(folder / "run.json") or record
            return bool(job and job.running) or (now.status == "running" and runs.is_alive(now.process) is not False)

        stream = live.follow(folder / "events.jsonl", offset, is_live)
        return StreamingResponse(stream, media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    def doc(self, request: Request) -> Response:
        issue, kind = request.path_params["issue"], request.path_params["kind"]
        if kind not in DOC_KINDS:
            raise UsageError(f"no document called {kind!r}", f"one of: {', '.join(DOC_KINDS)}")
        summary = self._summary(issue)
        where = readmodel.where(self.layout, issue)
        doc = readmodel.document(where, kind)
        text = readmodel.document_text(where, kind) if doc.exists else ""
        missing = "" if doc.exists else f"No {DOC_KINDS[kind]} yet ({doc.path})."
        return self._page(request, "doc.html.j2", s=summary, tab=kind, label=DOC_KINDS[kind], doc=doc if doc.exists else None,
                          text=text, missing=missing, rounds=evidence.review_rounds(self.layout, issue, kind))

    def code(self, request: Request) -> Response:
        issue = request.path_params["issue"]
        summary = self._summary(issue)
        where = readmodel.where(self.layout, issue)
        try:
            files, error = render.diff_files(readmodel.branch_diff(where)), ""
        except UsageError as exc:
            files, error = [], exc.message
        return self._page(request, "code.html.j2", s=summary, tab="code", files=files, diff_error=error,
                          tests=readmodel.test_summary(where),
                          matrix=evidence.test_matrix(where.run_dir) if where.run_dir else None)

    def cost(self, request: Request) -> Response:
        from agentos.workflows.orchestrator.config import stage_caps

        d = readmodel.run_detail(self.layout, request.path_params["issue"])
        config = load_config(self.layout.root).config
        return self._page(request, "cost.html.j2", d=d, s=d.summary, tab="cost", run_cap=config.budget_usd,
                          stage_caps={stage: cap.usd for stage, cap in stage_caps(config).items()},
                          calls=evidence.model_calls(Path(d.run_dir)))

    def pr(self, request: Request) -> Response:
        issue = request.path_params["issue"]
        summary = self._summary(issue)
        try:
            body, missing = readmodel.pr_body(readmodel.where(self.layout, issue)), ""
        except UsageError as exc:
            body, missing = "", exc.message
        return self._page(request, "pr.html.j2", s=summary, tab="pr", body=body, missing=missing)

    async def gate(self, request: Request) -> Response:
        issue = request.path_params["issue"]
        form = await request.form()
        try:
            await run_in_threadpool(decide, self.layout, issue, str(form.get("gate") or ""),
                                    str(form.get("action") or ""), str(form.get("feedback") or "").strip() or None,
                                    self.dash.continuations)
        except UsageError as exc:
            return await run_in_threadpool(self.run, request, str(exc), 409)
        return RedirectResponse(request.url_for("run_page", issue=issue), status_code=303)

    def api_runs(self, request: Request) -> Response:
        return _json(readmodel.as_json(readmodel.list_runs(self.layout)))

    def api_batches(self, request: Request) -> Response:
        return _json(self._batches())

    def api_run(self, request: Request) -> Response:
        return _json(readmodel.as_json(readmodel.run_detail(self.layout, request.path_params["issue"])))

    def code_css(self, request: Request) -> Response:
        return Response(render.highlight_css(), media_type="text/css")

    def _summary(self, issue: int) -> readmodel.RunSummary:
        return readmodel.run_detail(self.layout, issue).summary

    def refused(self, request: Request, exc: Exception) -> Response:
        """An expected error (an unknown issue, a missing document; a broken config) as a page, or JSON under /api."""
        assert isinstance(exc, AgentosError)
        status = 404 if isinstance(exc, UsageError) and not isinstance(exc, ConfigError) else 500
        if request.url.path.startswith("/api/"):
            return _json({"error": exc.message, "hint": exc.hint}, status)
        return self._page(request, "error.html.j2", status, title="Not found" if status == 404 else "Error",
                          message=exc.message, hint=exc.hint or "")


def _json(data: Any, status_code: int = 200) -> Response:
    """JSON with every secret masked, like the pages."""
    return Response(redact(json.dumps(data)), status_code, media_type="application/json")
