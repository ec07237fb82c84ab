"""`serve-worker --database-url` picks the session store (over VOICE_DATA_DIR's default)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from harness.processes import ROOT, Process, free_port
from harness.servers import stop, wait_http


def test_database_url_flag_chooses_the_sqlite_file(tmp_path: Path, model_server: Process) -> None:
    chosen = tmp_path / "chosen.db"
    data_dir = tmp_path / "data"
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "voice_engine.cli",
        "serve-worker",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--model-server",
        model_server.address,
        "--database-url",
        f"sqlite:///{chosen}",
    ]
    env = {
        **os.environ,
        "VOICE_DATA_DIR": str(data_dir),
        "VOICE_STT__PROVIDER": "mock",
        "VOICE_LOG__LEVEL": "WARNING",
    }
    with (tmp_path / "worker.log").open("wb") as log:
        popen = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=ROOT)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process=popen)
        reply = httpx.post(
            f"http://127.0.0.1:{port}/api/voice/sessions", json={"title": "from the flag"}
        )
        assert reply.status_code == 201, reply.text
    finally:
        stop(popen)
    with sqlite3.connect(chosen) as db:
        titles = db.execute("SELECT title FROM voice_chat_sessions").fetchall()
    assert titles == [("from the flag",)]
    assert not (data_dir / "voice-chat.db").exists()
