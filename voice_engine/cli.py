"""`voice-engine`: run the services and talk to them.

voice-engine serve-models [--host H] [--port 50051]
voice-engine say "Hello there." -o hello.wav [--voice V] [--format F] [--server H:P]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from shared.audio.formats import AudioFormat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="voice-engine", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve-models", help="run the gRPC model server")
    serve.add_argument("--host", help="bind address (default: VOICE_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="gRPC port (default: VOICE_PORT or 50051)")

    say = commands.add_parser("say", help="synthesize text through a running model server")
    say.add_argument("text", help="what to say ('-' reads standard input)")
    say.add_argument("-o", "--output", type=Path, required=True, help="audio file to write")
    say.add_argument("--voice", default="", help="voice name (default: the model's first)")
    say.add_argument("--model", default="", help="model name (default: the server's)")
    say.add_argument(
        "--format", type=AudioFormat.parse, help="wav, pcm, mp3, opus or flac (default: from -o)"
    )
    say.add_argument("--speed", type=float, default=0.0, help="0.25 to 4.0 (default 1.0)")
    say.add_argument("--server", default="127.0.0.1:50051", help="model server host:port")
    say.add_argument("--stream", action="store_true", help="use the streaming call")

    args = parser.parse_args(argv)
    if args.command == "serve-models":
        return _serve_models(args)
    return _say(args)


def _serve_models(args: argparse.Namespace) -> int:
    from model_server.server import serve
    from model_server.settings import Settings
    from shared.logs import configure_logging

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings(**overrides)
    configure_logging(settings.log.level, settings.log.json_format)
    asyncio.run(serve(settings))
    return 0


def _say(args: argparse.Namespace) -> int:
    from voice_engine.client import SpeechClientError, fetch_speech

    text = sys.stdin.read() if args.text == "-" else args.text
    fmt = args.format or _format_from_suffix(args.output)
    try:
        result = asyncio.run(
            fetch_speech(
                args.server,
                text,
                fmt=fmt,
                voice=args.voice,
                model=args.model,
                speed=args.speed,
                stream=args.stream,
            )
        )
    except SpeechClientError as exc:
        print(f"voice-engine say: {exc}", file=sys.stderr)
        return 1
    args.output.write_bytes(result.audio)
    print(
        f"wrote {args.output} ({result.format.value}, {result.sample_rate} Hz, "
        f"{result.duration:.2f} s, model {result.model}, voice {result.voice})"
    )
    return 0


def _format_from_suffix(path: Path) -> AudioFormat:
    suffix = path.suffix.lstrip(".").lower()
    aliases = {"ogg": "opus", "raw": "pcm"}
    try:
        return AudioFormat.parse(aliases.get(suffix, suffix))
    except ValueError:
        return AudioFormat.WAV


if __name__ == "__main__":
    raise SystemExit(main())
