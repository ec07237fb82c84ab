"""A private PostgreSQL server for tests that stop and start it (never the machine's
own on 5432): the Debian binaries (`initdb`, `pg_ctl` on PATH), a cluster in a
temporary directory, a free port on 127.0.0.1, no Unix socket, fsync off. As root (a
container, CI) the server runs as the `postgres` user, which initdb requires."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.processes import free_port


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


class PrivatePostgres:
    def __init__(self) -> None:
        if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
            raise RuntimeError("initdb and pg_ctl (PostgreSQL's server binaries) are needed")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="voice-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        initdb = ["initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        self._run([*initdb, "--no-sync", "--no-instructions"])

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, command: list[str]) -> None:
        result = subprocess.run(
            _as_postgres(command), capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{command[0]} failed: {result.stderr}{result.stdout}\n{log}")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        options += " -c fsync=off -c max_connections=200"
        pg_ctl = ["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options]
        self._run([*pg_ctl, "-w", "-t", "30", "start"])

    def stop(self, mode: str = "fast") -> None:
        """`fast`: clients are disconnected and their transactions rolled back;
        `immediate`: the server dies as if killed (recovery at the next start)."""
        self._run(["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"])

    def running(self) -> bool:
        status = subprocess.run(
            _as_postgres(["pg_ctl", "-D", str(self.data), "status"]),
            capture_output=True,
            timeout=30,
            check=False,
        )
        return status.returncode == 0

    def close(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
