"""`voice-engine say "text" -o out.wav`: synthesize through a running model server.
`--stdin` reads the text as it is typed or piped and speaks it sentence by sentence
(SynthesizeTextStream): `-o` is written as the audio comes, `--play` plays it."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from shared.audio.formats import AudioFormat

if TYPE_CHECKING:
    from voice_contract.channels import ChannelSecurity

NAME = "say"
HELP = "synthesize text through a running model server (direct gRPC)"
PLAYERS = (["ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet", "-i", "-"], ["aplay", "-q"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="what to say ('-' reads all of standard input)")
    parser.add_argument("-o", "--output", type=Path, help="audio file to write")
    parser.add_argument("--voice", default="", help="voice name (default: the model's first)")
    parser.add_argument("--model", default="", help="model name (default: the server's)")
    parser.add_argument(
        "--format", type=AudioFormat.parse, help="wav, pcm, mp3, opus or flac (default: from -o)"
    )
    parser.add_argument("--speed", type=float, default=0.0, help="0.25 to 4.0 (default 1.0)")
    parser.add_argument("--server", default="127.0.0.1:50051", help="model server host:port")
    parser.add_argument("--stream", action="store_true", help="use the streaming call")
    parser.add_argument(
        "--stdin",
        action="store_true",
        help="speak standard input as it arrives, sentence by sentence (type, or pipe)",
    )
    parser.add_argument("--play", action="store_true", help="with --stdin: play as it comes")
    parser.add_argument(
        "--ca-file",
        type=Path,
        default=os.environ.get("VOICE_GRPC__TLS_CA_FILE") or None,
        help="connect with TLS, trusting this CA certificate (PEM; default: "
        "VOICE_GRPC__TLS_CA_FILE, else plaintext)",
    )
    parser.add_argument(
        "--server-name", default="", help="with --ca-file: the name in the server's certificate"
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("VOICE_GRPC__TOKEN", ""),
        help="the model server's shared secret (default: VOICE_GRPC__TOKEN)",
    )


def security(args: argparse.Namespace) -> ChannelSecurity:
    from voice_contract.channels import ChannelSecurity

    return ChannelSecurity(args.token, args.ca_file, args.server_name)


def run(args: argparse.Namespace) -> int:
    from voice_contract.client import SpeechClientError, fetch_speech

    if args.stdin:
        if args.output is None and not args.play:
            print("voice-engine say: --stdin needs -o FILE or --play", file=sys.stderr)
            return 2
        try:
            return asyncio.run(speak_stdin(args))
        except SpeechClientError as exc:
            print(f"voice-engine say: {exc}", file=sys.stderr)
            return 1
    if args.text is None or args.output is None:
        print("voice-engine say: give the text and -o FILE (or --stdin)", file=sys.stderr)
        return 2
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
                security=security(args),
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


async def stdin_lines() -> AsyncIterator[str]:
    """Standard input line by line, as it comes (read on a thread)."""
    while line := await asyncio.to_thread(sys.stdin.readline):
        yield line


async def speak_stdin(args: argparse.Namespace) -> int:
    from voice_contract.client import SpeechClient

    fmt = args.format or (format_from_suffix(args.output) if args.output else AudioFormat.WAV)
    sinks: list[IO[bytes]] = []
    output = args.output.open("wb") if args.output else None
    if output is not None:
        sinks.append(output)
    player = start_player() if args.play else None
    if player is not None and player.stdin is not None:
        sinks.append(player.stdin)
    seconds, sentences = 0.0, 0
    try:
        async with SpeechClient(args.server, timeout=None, security=security(args)) as client:
            options = {"voice": args.voice, "model": args.model, "speed": args.speed}
            async for chunk in client.stream_text(stdin_lines(), fmt, **options):
                for sink in sinks:
                    sink.write(chunk.audio)
                    sink.flush()
                if chunk.text:
                    sentences += 1
                    print(f"  {' '.join(chunk.text.split())}", file=sys.stderr, flush=True)
                seconds = chunk.duration_seconds
    finally:
        for sink in sinks:
            sink.close()
        if player is not None:
            player.wait()
    where = f" to {args.output}" if args.output else ""
    print(f"spoke {sentences} sentences, {seconds:.2f} s of audio{where}", file=sys.stderr)
    return 0


def start_player() -> subprocess.Popen[bytes] | None:
    player = next((p for p in PLAYERS if shutil.which(p[0])), None)
    if player is None:
        print("voice-engine say: no audio player found (install ffmpeg)", file=sys.stderr)
        return None
    return subprocess.Popen(player, stdin=subprocess.PIPE)


def format_from_suffix(path: Path) -> AudioFormat:
    suffix = path.suffix.lstrip(".").lower()
    aliases = {"ogg": "opus", "raw": "pcm"}
    try:
        return AudioFormat.parse(aliases.get(suffix, suffix))
    except ValueError:
        return AudioFormat.WAV
