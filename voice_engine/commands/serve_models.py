"""`voice-engine serve-models`: run the gRPC model server until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio

NAME = "serve-models"
HELP = "run the gRPC model server"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="bind address (default: VOICE_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="gRPC port (default: VOICE_PORT or 50051)")


def run(args: argparse.Namespace) -> int:
    from model_server.server import serve
    from model_server.settings import Settings
    from shared.logs import configure_logging

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings(**overrides)
    configure_logging(settings.log.level, settings.log.json_format)
    asyncio.run(serve(settings))
    return 0
