"""`agentos serve`: the dashboard on a repository's runs, until Ctrl-C.

The socket is bound here, before uvicorn starts, so a port in use or an address the machine does
not have is a clear error (exit 2) rather than a log line. Bound to anything but loopback the
server makes an access token and prints the URL that carries it; that is the only way in. When
the server stops, the runs it was continuing are ended (their checkpoints stay; `orchestrate
--issue N` or `agentos poll` continues them).
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
import webbrowser
from pathlib import Path
from typing import TextIO

from agentos.errors import UsageError
from agentos.paths import RepoLayout, find_repo_root

INSTALL_HINT = "install the dashboard's extra: pip install 'agentos[web]'"


def serve(repo: Path | None, host: str, port: int, open_browser: bool, out: TextIO = sys.stdout) -> None:
    """Serve the dashboard for the repository at `repo` on host:port until interrupted."""
    uvicorn = _require_web()
    from agentos.web.app import Dashboard, build_app

    layout = RepoLayout(find_repo_root(repo))
    dash = Dashboard.on(layout, host)
    sock = _bind(host, port)
    threading.Thread(target=dash.listing.summaries, daemon=True).start()  # the first page need not wait for it
    url = _url(host, sock.getsockname()[1], dash.guard.token)
    print(f"agentos dashboard for {layout.root}\n  {url}", file=out)
    if dash.guard.token:
        print("  bound beyond this machine: only that URL (with its token) opens it; keep it private", file=out)
    print("  Ctrl-C stops it", file=out, flush=True)
    if open_browser:
        webbrowser.open(url)
    config = uvicorn.Config(build_app(dash), log_level="warning", timeout_graceful_shutdown=3, lifespan="off")
    previous = signal.signal(signal.SIGTERM, _interrupt)  # uvicorn re-raises the signal once it has stopped
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # Ctrl-C (or SIGTERM) is how a server stops: not an error
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
        ended = dash.continuations.end_all()
        if ended:
            print("stopped the runs the dashboard was continuing: " + ", ".join(f"#{n}" for n in ended)
                  + " (their checkpoints stay; `agentos poll` or `orchestrate --issue N` continues them)", file=out)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _require_web():
    """uvicorn, or a clear error when the web extra is not installed."""
    try:
        import markdown_it  # noqa: F401
        import pygments  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise UsageError(f"the dashboard needs {exc.name}, which is not installed", INSTALL_HINT) from None
    return uvicorn


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free one)."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a port number", "pass a number from 1 to 65535 (0: any free port)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"cannot bind {host!r}: {exc.strerror}", "pass --host with an address of this machine") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        hint = "pass --port with another number (0: any free port)" if port else "pass --host with an address of this machine"
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}", hint) from None
    sock.setblocking(False)
    return sock


def _url(host: str, port: int, token: str | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = socket.gethostname()
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
