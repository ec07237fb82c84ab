"""`voice-engine up`: the whole engine on this machine: a model server and a voice
worker as child processes. SIGTERM/SIGINT go to both; if one exits, the other is
stopped too."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from types import FrameType

NAME = "up"
HELP = "run a model server and a voice worker together (what `make run` does)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address of both")
    parser.add_argument("--model-port", type=int, default=50051, help="model server gRPC port")
    parser.add_argument("--port", type=int, default=8001, help="voice worker HTTP port")


def run(args: argparse.Namespace) -> int:
    cli = [sys.executable, "-m", "voice_engine.cli"]
    model_address = f"{args.host}:{args.model_port}"
    children = {
        "model server": subprocess.Popen(
            [*cli, "serve-models", "--host", args.host, "--port", str(args.model_port)]
        ),
        "voice worker": subprocess.Popen(
            [
                *cli,
                "serve-worker",
                "--host",
                args.host,
                "--port",
                str(args.port),
                "--model-server",
                model_address,
            ]
        ),
    }
    print(
        f"model server (gRPC): {model_address}\n"
        f"voice worker (HTTP): http://{args.host}:{args.port}  "
        f"(OpenAI base URL http://{args.host}:{args.port}/v1)",
        flush=True,
    )
    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = 0
    while any(child.poll() is None for child in children.values()):
        for name, child in children.items():
            if child.poll() is not None and not stopping:
                print(f"{name} exited with {child.returncode}; stopping", file=sys.stderr)
                code = child.returncode or 1
                forward(signal.SIGTERM, None)
        time.sleep(0.2)
    return code
