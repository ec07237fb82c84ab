"""`voice-engine chat`: talk to a running voice worker. Type a line (or give --text, or
an audio file with --audio) and hear the reply (--play) or save it (-o)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

NAME = "chat"
HELP = "voice chat with a running worker: type or send audio, hear or save the reply"
PLAYERS = (["ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"], ["afplay"], ["aplay", "-q"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--worker", default="http://127.0.0.1:8001", help="worker base URL")
    parser.add_argument("--session", help="continue this session (default: a new one)")
    parser.add_argument("--text", help="say this once and exit (default: read lines)")
    parser.add_argument("--audio", type=Path, help="send this audio file once and exit")
    parser.add_argument("-o", "--output", type=Path, help="write the reply audio here")
    parser.add_argument("--format", default="mp3", help="reply audio: mp3, wav, opus, flac")
    parser.add_argument("--role", default="", help="analyst role of a new session")
    parser.add_argument("--voice", default="", help="voice of a new session")
    parser.add_argument("--play", action="store_true", help="play each reply")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per turn")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("VOICE_ENGINE_API_KEY", ""),
        help="key or token of a worker with authentication on (default: VOICE_ENGINE_API_KEY)",
    )


def run(args: argparse.Namespace) -> int:
    import httpx

    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    with httpx.Client(
        base_url=args.worker.rstrip("/"), timeout=args.timeout, headers=headers
    ) as client:
        try:
            session = args.session or create_session(client, args)
            if args.text is not None or args.audio is not None:
                return turn(client, session, args, args.text, args.audio, 1)
            print(f"session {session}; type a message, empty line or Ctrl-D to quit")
            for number, line in enumerate(sys.stdin, 1):
                if not line.strip():
                    break
                turn(client, session, args, line.strip(), None, number)
        except httpx.HTTPError as exc:
            print(f"voice-engine chat: cannot reach {args.worker}: {exc}", file=sys.stderr)
            return 1
    return 0


def create_session(client: Any, args: argparse.Namespace) -> str:
    settings = {"audio_format": args.format, "analyst_role": args.role, "voice": args.voice}
    reply = client.post("/api/voice/sessions", json={"settings": settings})
    if reply.status_code != 201:
        raise SystemExit(f"voice-engine chat: {error(reply)}")
    return str(reply.json()["id"])


def turn(
    client: Any,
    session: str,
    args: argparse.Namespace,
    text: str | None,
    audio: Path | None,
    n: int,
) -> int:
    import base64

    path = f"/api/voice/sessions/{session}"
    if audio is not None:
        files = {"audio": (audio.name, audio.read_bytes())}
        reply = client.post(f"{path}/messages", files=files)
    else:
        reply = client.post(f"{path}/text", json={"text": text or ""})
    if reply.status_code != 200:
        print(f"voice-engine chat: {error(reply)}", file=sys.stderr)
        return 1
    body = reply.json()
    if body.get("transcript"):
        print(f"you:       {body['transcript']}")
    print(f"assistant: {body['reply_text']}")
    data = base64.b64decode(body["audio_base64"])
    output = args.output
    if output is not None and n > 1:
        output = output.with_name(f"{output.stem}-{n}{output.suffix}")
    if output is not None:
        output.write_bytes(data)
        print(f"           (audio: {output})")
    if args.play:
        play(data, body["audio_format"])
    return 0


def play(data: bytes, fmt: str) -> None:
    player = next((p for p in PLAYERS if shutil.which(p[0])), None)
    if player is None:
        print("           (no audio player found: install ffmpeg, or use -o)", file=sys.stderr)
        return
    with tempfile.NamedTemporaryFile(suffix=f".{fmt}") as handle:
        handle.write(data)
        handle.flush()
        subprocess.run([*player, handle.name], check=False)


def error(reply: Any) -> str:
    try:
        return f"{reply.status_code}: {reply.json()['error']['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{reply.status_code}: {reply.text[:200]}"
