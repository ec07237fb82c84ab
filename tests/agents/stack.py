"""The engine the agent framework tests talk to, run by the main virtualenv's python
(the frameworks live in .venv-agents, whose pins may clash with the engine's):
`python -m tests.agents.stack DIR` starts a model server, the fake Venice (its
scenario set over HTTP: `POST /test/scenario?name=long`, with `&calls=[[name, {args}]]`
for the tool scenarios) and a worker whose chat is
that fake and whose speech is heard by local Whisper, writes the test speech as raw
pcm16 24 kHz files into DIR, prints one JSON line saying where everything is, and runs
until its standard input closes (the test process ending closes it too)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from harness.fake_venice import FakeVenice, venice_env
from harness.processes import DATA, model_server_process
from harness.servers import ThreadServer, worker_process
from shared.audio.decoding import decode

RATE = 24_000
SPEECH = {"question": "question.flac", "jfk": "jfk.flac"}


def write_speech(directory: Path) -> dict[str, str]:
    paths = {}
    for name, file in SPEECH.items():
        samples = decode((DATA / file).read_bytes(), RATE).samples
        path = directory / f"{name}.pcm"
        path.write_bytes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
        paths[name] = str(path)
    return paths


def main(directory: Path) -> None:
    fake = FakeVenice()
    fake.scenario = "plain"

    async def scenario(name: str, calls: str = "[]") -> dict[str, str]:
        fake.scenario = name
        fake.tool_calls = [(call, arguments) for call, arguments in json.loads(calls)]
        return {"scenario": name}

    fake.app.post("/test/scenario")(scenario)
    with (
        ThreadServer(fake.app) as venice,
        model_server_process(directory) as model_server,
    ):
        env = {
            **venice_env(f"{venice.url}/api/v1"),
            "VOICE_STT__PROVIDER": "local",
            "VOICE_RESPONSE_CACHE__ENABLED": "false",
            "VOICE_CHAT__MAX_RETRIES": "0",
            "VOICE_TTS__MAX_RETRIES": "0",
        }
        with worker_process(directory, model_server.address, env) as worker:
            where = {
                "worker": f"http://{worker.address}",
                "venice": venice.url,
                "worker_log": str(worker.log_path),
                "speech": write_speech(directory),
            }
            print(json.dumps(where), flush=True)
            sys.stdin.read()  # until the test process closes it


if __name__ == "__main__":
    main(Path(sys.argv[1]))
