"""`voice-engine serve-worker`: run the HTTP voice worker (FastAPI on uvicorn).

Metrics with several processes: every worker process writes its Prometheus values to
files in PROMETHEUS_MULTIPROC_DIR, and `GET /metrics`, whichever process answers it,
adds them all up. This command sets that variable for its processes: to the
directory the environment names (one per serve-worker; a Kubernetes emptyDir, say),
else to a fresh temporary directory removed at exit; either way it is emptied at
start, so counters begin at zero with the server."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voice_worker.settings import Settings

NAME = "serve-worker"
HELP = "run the HTTP voice worker (speech-to-text, text-to-speech, OpenAI-compatible)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="bind address (default: VOICE_HTTP_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="HTTP port (default: VOICE_HTTP_PORT or 8001)")
    parser.add_argument(
        "--model-server", help="model server HOST:PORT (default: VOICE_TTS__MODEL_SERVER)"
    )
    parser.add_argument("--workers", type=int, help="processes (default: VOICE_HTTP_WORKERS or 1)")
    parser.add_argument(
        "--database-url",
        help="session store: sqlite:///file.db or postgresql://... (default: VOICE_DATABASE__URL)",
    )


def overrides(args: argparse.Namespace) -> dict[str, str]:
    """Flags as the environment variables they override."""
    pairs = {
        "VOICE_HTTP_HOST": args.host,
        "VOICE_HTTP_PORT": args.port,
        "VOICE_TTS__MODEL_SERVER": args.model_server,
        "VOICE_HTTP_WORKERS": args.workers,
        "VOICE_DATABASE__URL": args.database_url,
    }
    return {k: str(v) for k, v in pairs.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    directory = Path(given or tempfile.mkdtemp(prefix="voice-worker-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)  # before prometheus_client loads
    from voice_worker.observability.exposition import prepare_directory

    prepare_directory(directory)  # before any metric is defined
    try:
        return _checked_serve(args)
    finally:
        if not given:
            shutil.rmtree(directory, ignore_errors=True)


def _checked_serve(args: argparse.Namespace) -> int:
    from shared.logs import configure_logging
    from voice_worker.auth.exposure import ExposedWithoutAuth, check_exposure
    from voice_worker.settings import Settings

    os.environ.update(overrides(args))  # children of a multi-process server read them too
    settings = Settings()
    configure_logging(settings.log.level, settings.log.json_format)
    try:
        check_exposure(settings.auth, settings.http_host)
    except ExposedWithoutAuth as exc:
        print(f"voice-engine serve-worker: {exc}", file=sys.stderr)
        return 2
    _serve(settings)
    return 0


def _serve(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        "voice_worker.asgi:app",
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        workers=settings.http_workers,
        loop="auto",  # uvloop and httptools when installed (they are, on Linux)
        http="auto",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        ws_max_size=settings.realtime.max_event_bytes,  # the realtime WebSocket
        ws_per_message_deflate=False,  # base64 audio hardly compresses; the CPU is better spent
    )
