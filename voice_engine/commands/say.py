"""`voice-engine say "text" -o out.wav`: synthesize through a running model server."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from shared.audio.formats import AudioFormat

NAME = "say"
HELP = "synthesize text through a running model server (direct gRPC)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="what to say ('-' reads standard input)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="audio file to write")
    parser.add_argument("--voice", default="", help="voice name (default: the model's first)")
    parser.add_argument("--model", default="", help="model name (default: the server's)")
    parser.add_argument(
        "--format", type=AudioFormat.parse, help="wav, pcm, mp3, opus or flac (default: from -o)"
    )
    parser.add_argument("--speed", type=float, default=0.0, help="0.25 to 4.0 (default 1.0)")
    parser.add_argument("--server", default="127.0.0.1:50051", help="model server host:port")
    parser.add_argument("--stream", action="store_true", help="use the streaming call")


def run(args: argparse.Namespace) -> int:
    from voice_contract.client import SpeechClientError, fetch_speech

    text = sys.stdin.read() if args.text == "-" else args.text
    fmt = args.format or format_from_suffix(args.output)
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


def format_from_suffix(path: Path) -> AudioFormat:
    suffix = path.suffix.lstrip(".").lower()
    aliases = {"ogg": "opus", "raw": "pcm"}
    try:
        return AudioFormat.parse(aliases.get(suffix, suffix))
    except ValueError:
        return AudioFormat.WAV
