"""Fixtures for the corpus pipeline tests: a corpus project as a user's repository, the replay
model behind it, orchestrate run as a user runs it, and the project's own test environment for
checking what agentos committed."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.corpus import fetch, verify
from tests.corpus.fetch import Project
from tests.corpus.replay import ReplayServer, Variant, config

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PIPELINE_TIMEOUT = 900


def user_tree(repo: Path) -> str:
    """A hash of the user's checkout: every file outside .git and .agentos, and where HEAD is."""
    digest = hashlib.sha256()
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if rel.split("/", 1)[0] in (".git", ".agentos") or not path.is_file():
            continue
        digest.update(rel.encode() + b"\0" + path.read_bytes())
    head = fetch.git(repo, "rev-parse", "HEAD") + fetch.git(repo, "symbolic-ref", "HEAD")
    return digest.hexdigest() + "\n" + head


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment without the test run's own Python and pytest variables; loopback unproxied."""
    env = {k: v for k, v in os.environ.items() if k not in verify.SCRUBBED}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return {**env, **(extra or {})}


@dataclass
class Pipeline:
    """One corpus project as a user's repository, with issue #1 filed and the replay model configured."""

    project: Project
    repo: Path
    server: ReplayServer

    def orchestrate(self, *args: str) -> subprocess.CompletedProcess:
        started = time.monotonic()
        run = subprocess.run([str(BIN / "orchestrate"), "--issue", "1", "--repo", str(self.repo), "--plain",
                              "--no-input", *args], cwd=self.repo, env=clean_env(), text=True,
                             capture_output=True, timeout=PIPELINE_TIMEOUT, stdin=subprocess.DEVNULL)
        run.seconds = time.monotonic() - started  # type: ignore[attr-defined]
        return run


def make_pipeline(project: Project, where: Path, variant: Variant | None = None) -> Pipeline:
    """The project at its planted bug in `where`/repo, config and issue written, server started."""
    repo = fetch.prepare(project, where / "repo", with_bug=True)
    server = ReplayServer(project, repo, variant).start()
    agentos_dir = repo / ".agentos"
    agentos_dir.mkdir()
    (agentos_dir / "config.yaml").write_text(yaml.safe_dump(config(server.base_url), sort_keys=False))
    body = where / "issue.md"
    body.write_text(project.data["issue"]["body"], encoding="utf-8")
    subprocess.run([str(BIN / "agentos"), "issue", "new", "--title", project.data["issue"]["title"],
                    "--body-file", str(body), "--repo", str(repo)], check=True, capture_output=True,
                   env=clean_env())
    return Pipeline(project, repo, server)


@pytest.fixture
def pipeline(tmp_path: Path):
    """make_pipeline, with the server stopped at the end of the test."""
    made: list[Pipeline] = []

    def make(project: Project, variant: Variant | None = None) -> Pipeline:
        made.append(make_pipeline(project, tmp_path, variant))
        return made[-1]

    yield make
    for p in made:
        p.server.stop()


# -- the project's own test environment, for checking the branch --------------------------

class ProjectEnv:
    """A clone of the user's repository with the project's own test environment (as projects.yaml's
    setup.install declares it), to run the project's own runner on any commit of the user's.

    Kept between test runs in the corpus cache (one per project, locked while in use), so its
    environment is built once: commits are fetched into it from each test's repository."""

    def __init__(self, project: Project):
        self.project = project
        self.work = fetch.cache_dir() / "check" / f"{project.name}-{project.version}"
        self.checkout = self.work / "checkout"
        self.env = verify.environment(self.work, project)
        self.env.update(UV_CACHE_DIR=str(_cache("uv")), PIP_CACHE_DIR=str(_cache("pip")),
                        npm_config_cache=str(_cache("npm")))
        self._lock = None

    def __enter__(self) -> ProjectEnv:
        self.work.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.work / ".lock", "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        if not (self.checkout / ".git").is_dir():
            shutil.rmtree(self.checkout, ignore_errors=True)
            fetch.git(self.work, "init", "--quiet", str(self.checkout))
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()

    def fetch_from(self, repo: Path) -> None:
        fetch.git(self.checkout, "fetch", "--quiet", "--no-tags", str(repo), "+refs/heads/*:refs/remotes/user/*")

    def at(self, sha: str) -> None:
        """The checkout at `sha`, its test environment ready."""
        fetch.git(self.checkout, "checkout", "--quiet", "--force", "--detach", sha)
        fetch.git(self.checkout, "clean", "-q", "-d", "-f", "-e", "node_modules", "-e", "*.egg-info")
        self._ensure_setup()

    def _ensure_setup(self) -> None:
        marker = self.work / "setup.json"
        wanted = json.dumps({"setup": self.project.data["setup"], "python": sys.version})
        if self.project.source == "npm" or not marker.is_file() or marker.read_text() != wanted:
            done = self._setup()
            if done.returncode != 0:
                raise AssertionError(f"the project's own test environment: {done.tail(30)}")
            marker.write_text(wanted)

    def _setup(self) -> verify.Run:
        if self.project.source == "npm":
            return verify.run(["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"], self.checkout,
                              self.env)
        venv, install = self.work / "venv", self.project.data["setup"]["install"]
        shutil.rmtree(venv, ignore_errors=True)
        uv = shutil.which("uv", path=str(BIN)) or shutil.which("uv")
        if uv:
            made = verify.run([uv, "venv", "--quiet", "--python", verify.base_python(), str(venv)], self.checkout,
                              self.env)
            return made if made.returncode else verify.run(
                [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *install],
                self.checkout, self.env)
        made = verify.run([verify.base_python(), "-m", "venv", str(venv)], self.checkout, self.env)
        return made if made.returncode else verify.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             *install], self.checkout, self.env)

    def suite(self) -> verify.Run:
        return verify.suite(self.project, self.checkout, self.work)

    def outcome(self, test: str) -> str:
        full = self.suite() if self.project.data["runner"] == "tape" else None
        return verify.outcome(self.project, self.checkout, self.work, test, full)


def _cache(name: str) -> Path:
    path = fetch.cache_dir() / "tools" / name
    path.mkdir(parents=True, exist_ok=True)
    return path
