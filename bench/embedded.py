"""The embedded engine as the turn benchmarks run it: a model server and one worker
process (local Whisper, SmolLM2, Piper), no response cache, in a throwaway directory."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness.processes import model_server_process
from harness.servers import worker_process


@contextlib.contextmanager
def embedded_worker_process() -> Iterator[tuple[str, int]]:
    """The worker's base URL and process id (for a benchmark that reads its CPU), while
    both processes run."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with model_server_process(directory) as server:
            env = {
                "VOICE_DATA_DIR": str(directory),
                "VOICE_CHAT__PROVIDER": "local",
                "VOICE_RESPONSE_CACHE__ENABLED": "false",
                "VOICE_LOG__LEVEL": "WARNING",
            }
            with worker_process(directory, server.address, env) as worker:
                yield f"http://{worker.address}", worker.popen.pid


@contextlib.contextmanager
def embedded_worker() -> Iterator[str]:
    """The worker's base URL, while both processes run."""
    with embedded_worker_process() as (url, _):
        yield url
