"""`voice-engine serve-wyoming`: speech-to-text and text-to-speech over the Wyoming
protocol, for Home Assistant's Assist and other voice satellites, until SIGTERM or
SIGINT (requests in progress finish first)."""

from __future__ import annotations

import argparse
import os

NAME = "serve-wyoming"
HELP = "serve speech-to-text and text-to-speech over the Wyoming protocol (Home Assistant)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--uri",
        help="tcp://HOST:PORT or unix:///path (default: VOICE_WYOMING__URI or tcp://127.0.0.1:10300)",
    )
    parser.add_argument(
        "--model-server", help="model server HOST:PORT (default: VOICE_TTS__MODEL_SERVER)"
    )
    parser.add_argument(
        "--zeroconf",
        action="store_true",
        default=None,
        help="announce the server on the local network (default: VOICE_WYOMING__ZEROCONF, off)",
    )


def overrides(args: argparse.Namespace) -> dict[str, str]:
    """Flags as the environment variables they override."""
    pairs = {
        "VOICE_WYOMING__URI": args.uri,
        "VOICE_TTS__MODEL_SERVER": args.model_server,
        "VOICE_WYOMING__ZEROCONF": "true" if args.zeroconf else None,
    }
    return {k: str(v) for k, v in pairs.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    import asyncio

    from shared.logs import configure_logging
    from voice_worker.settings import Settings
    from voice_worker.wyoming_app import serve

    os.environ.update(overrides(args))
    settings = Settings()
    configure_logging(settings.log.level, settings.log.json_format)
    asyncio.run(serve(settings))
    return 0
