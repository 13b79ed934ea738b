"""A throwaway PostgreSQL cluster in a temporary directory, for tests that want a real server.

Needs Debian's PostgreSQL server binaries (``apt-get install postgresql``: initdb, pg_ctl). PostgreSQL
refuses to run as root, so when the tests run as root the cluster runs as the ``postgres`` system user
(created by the Debian package) or ``nobody``. ``unavailable()`` says why a cluster cannot be started,
for a skip reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


def unavailable() -> str | None:
    """Why no cluster can be started here, or None when one can."""
    if _bin_dir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: pip install 'orchestrator[postgres]'"
    if os.geteuid() == 0 and _run_as() is None:
        return "running as root and no 'postgres' or 'nobody' user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresCluster:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        assert self.bin is not None, unavailable()
        self.user = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="orchestrator-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([str(self.bin / args[0]), *args[1:]], check=True, capture_output=True, user=self.user,
                       cwd=self.root, timeout=120)

    def start(self) -> PostgresCluster:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        try:
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--no-sync", "--no-instructions")
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        except subprocess.CalledProcessError as exc:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            self.stop()
            raise RuntimeError(f"cannot start PostgreSQL: {exc.stderr.decode()} {log}") from None
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                           capture_output=True, user=self.user, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)
