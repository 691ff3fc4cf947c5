"""Fetch the corpus of real projects (tests/corpus/projects.yaml) by their package clients.

Each project is downloaded once into a cache directory (``$AGENTOS_CORPUS_CACHE``, else
``~/.cache/agentos-corpus``) with ``pip download --no-deps --no-binary :all:`` or ``npm pack``,
checked against the sha256 recorded in projects.yaml, unpacked into a directory of the caller's
choice and made a git repository: one commit "published source", and optionally a second commit
with the planted bug. Once the archives are cached this needs no network.

    python -m tests.corpus.fetch                    # fill the cache, print archive, size, sha256
    python -m tests.corpus.fetch --only six --dest /tmp/c --with-bug
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECTS_FILE = Path(__file__).with_name("projects.yaml")
GIT_IDENTITY = ["-c", "user.name=agentos corpus", "-c", "user.email=corpus@agentos.invalid",
                "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]


class CorpusError(Exception):
    """A project cannot be fetched, verified or prepared."""


@dataclass(frozen=True)
class Edit:
    """A search/replace on one file of a project (the planted bug, its fix)."""

    file: str
    search: str
    replace: str

    def inverse(self) -> Edit:
        return Edit(self.file, self.replace, self.search)


@dataclass(frozen=True)
class Project:
    """One corpus entry; ``data`` keeps the whole YAML mapping (issue, tests, notes...)."""

    name: str
    version: str
    source: str  # "pypi" or "npm"
    sha256: str | None
    bug: Edit
    fix: Edit
    data: dict[str, Any] = field(repr=False, compare=False)

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}" if self.source == "pypi" else f"{self.name}@{self.version}"


def _edit(raw: dict[str, Any]) -> Edit:
    return Edit(file=raw["file"], search=raw["search"], replace=raw["replace"])


def load_projects(path: Path = PROJECTS_FILE) -> list[Project]:
    """Every project of projects.yaml, in file order."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Project(name=p["name"], version=str(p["version"]), source=p["source"],
                    sha256=p.get("sha256"), bug=_edit(p["bug"]), fix=_edit(p["fix"]), data=p)
            for p in raw["projects"]]


def get_project(name: str, path: Path = PROJECTS_FILE) -> Project:
    """The project called ``name`` (CorpusError if there is none)."""
    for project in load_projects(path):
        if project.name == name:
            return project
    raise CorpusError(f"no project {name!r} in {path}")


def cache_dir() -> Path:
    """Where archives are kept: $AGENTOS_CORPUS_CACHE, else ~/.cache/agentos-corpus."""
    env = os.environ.get("AGENTOS_CORPUS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "agentos-corpus"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cached(project: Project, cache: Path) -> Path | None:
    folder = cache / project.source / f"{project.name}-{project.version}"
    files = sorted(folder.glob("*")) if folder.is_dir() else []
    return files[0] if len(files) == 1 else None


def _download_command(project: Project, into: Path) -> list[str]:
    if project.source == "pypi":  # pip, not uv: uv has no download command
        return [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--no-binary", ":all:", "--dest", str(into), project.spec]
    if project.source == "npm":
        return ["npm", "pack", "--silent", "--pack-destination", str(into), project.spec]
    raise CorpusError(f"{project.name}: unknown source {project.source!r}")


def download(project: Project, cache: Path | None = None) -> Path:
    """The project's archive in the cache, downloaded first if missing; sha256-checked."""
    cache = cache or cache_dir()
    archive = _cached(project, cache)
    if archive is None:
        with tempfile.TemporaryDirectory(prefix="corpus-dl-") as tmp:
            run = subprocess.run(_download_command(project, Path(tmp)), capture_output=True, text=True)
            got = [p for p in Path(tmp).iterdir() if p.is_file()]
            if run.returncode != 0 or len(got) != 1:
                raise CorpusError(f"{project.spec}: download failed\n{run.stderr[-2000:]}")
            folder = cache / project.source / f"{project.name}-{project.version}"
            folder.mkdir(parents=True, exist_ok=True)
            archive = Path(shutil.move(str(got[0]), folder / got[0].name))
    if project.sha256 and sha256_of(archive) != project.sha256:
        raise CorpusError(f"{archive}: sha256 {sha256_of(archive)} is not {project.sha256}")
    return archive


def _strip_top(names: list[str]) -> str:
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) != 1:
        raise CorpusError(f"archive has {len(tops)} top-level entries, expected one")
    return tops.pop()


def unpack(archive: Path, dest: Path) -> Path:
    """Extract ``archive`` into ``dest`` (created, must be empty), dropping its top folder."""
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise CorpusError(f"{dest} is not empty")
    with tempfile.TemporaryDirectory(prefix="corpus-unpack-", dir=dest.parent) as tmp:
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as zf:
                top = _strip_top(zf.namelist())
                zf.extractall(tmp)
        else:
            with tarfile.open(archive) as tf:
                top = _strip_top(tf.getnames())
                tf.extractall(tmp, filter="data")
        for child in (Path(tmp) / top).iterdir():
            shutil.move(str(child), dest / child.name)
    return dest


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with the corpus's hermetic identity; its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    run = subprocess.run(["git", *GIT_IDENTITY, *args], cwd=repo, env=env,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise CorpusError(f"git {' '.join(args)} in {repo}: {run.stderr.strip()}")
    return run.stdout


def commit_all(repo: Path, message: str) -> str:
    """Commit every file (ignored ones too: this is the published source); the new sha."""
    git(repo, "add", "--all", "--force", ".")
    git(repo, "commit", "--quiet", "--no-verify", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def apply_edit(repo: Path, edit: Edit) -> None:
    """Replace the one occurrence of ``edit.search`` in ``edit.file`` (CorpusError otherwise)."""
    path = repo / edit.file
    text = path.read_text(encoding="utf-8")
    count = text.count(edit.search)
    if count != 1:
        raise CorpusError(f"{edit.file}: search text found {count} times, expected once")
    path.write_text(text.replace(edit.search, edit.replace), encoding="utf-8", newline="")


def prepare(project: Project, dest: Path, with_bug: bool = False, cache: Path | None = None) -> Path:
    """``dest`` as a git repository of the published source (+ the planted bug if asked)."""
    unpack(download(project, cache), dest)
    git(dest, "init", "--quiet", "--initial-branch=main")
    commit_all(dest, "published source")
    if with_bug:
        plant_bug(project, dest)
    return dest


def plant_bug(project: Project, repo: Path) -> str:
    """Commit the planted bug on top of the published source; the new sha."""
    apply_edit(repo, project.bug)
    return commit_all(repo, f"{project.name}: planted bug")


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.corpus.fetch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", metavar="NAME", help="this project only (repeatable)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="cache directory (default: $AGENTOS_CORPUS_CACHE, else ~/.cache/agentos-corpus)")
    parser.add_argument("--dest", type=Path, help="also unpack each project into DEST/NAME as a git repo")
    parser.add_argument("--with-bug", action="store_true", help="commit the planted bug too")
    args = parser.parse_args(argv)
    projects = [p for p in load_projects() if not args.only or p.name in args.only]
    if args.only and len(projects) != len(set(args.only)):
        parser.error(f"unknown project in {args.only}")
    total = 0
    for project in projects:
        archive = download(project, args.cache)
        total += archive.stat().st_size
        print(f"{project.spec:32} {archive.stat().st_size:>9} {sha256_of(archive)} {archive}")
        if args.dest:
            prepare(project, args.dest / project.name, args.with_bug, args.cache)
    print(f"{len(projects)} projects, {total} bytes in {args.cache or cache_dir()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
