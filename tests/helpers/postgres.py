"""A real PostgreSQL server from the Debian package, for the tests that need one: a temporary
data directory, initdb and pg_ctl run as the `postgres` user (initdb refuses root), listening on
127.0.0.1 on a free port, stopped (and its files removed) at the end."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def server_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None when the server is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    def __init__(self) -> None:
        self.bin = server_bin()
        self.root = Path(tempfile.mkdtemp(prefix="agentos-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.superuser = "postgres"

    def _run(self, *argv: str) -> None:
        out = subprocess.run([*self._as, *argv], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {out.stdout}{out.stderr}")

    def start(self) -> Postgres:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", self.superuser, "--no-sync",
                  "-E", "UTF8")
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"),
                  "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, user: str | None = None, db: str = "postgres", password: str | None = None) -> str:
        auth = f"{user or self.superuser}{':' + password if password else ''}@"
        return f"postgresql://{auth}127.0.0.1:{self.port}/{db}"

    def sql(self, statement: str, db: str = "postgres") -> None:
        """Run one statement as the superuser."""
        import psycopg

        with psycopg.connect(self.url(db=db), autocommit=True) as conn:
            conn.execute(statement)

    def new_database(self, name: str, owner: str | None = None) -> str:
        """A fresh database (owned by `owner`, a role made for it, when given); its URL."""
        if owner:
            self.sql(f"CREATE ROLE {owner} LOGIN")
        self.sql(f"CREATE DATABASE {name}" + (f" OWNER {owner}" if owner else ""))
        return self.url(owner, name)
