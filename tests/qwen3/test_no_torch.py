"""The worker and the default model server never import torch (only loading a qwen3
model does). Run here, where torch is installed, so an accidental import shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.processes import ROOT

PROBE = """
import json, sys
from model_server.server import build_synthesizer
from model_server.settings import Settings
service = build_synthesizer(Settings())
voices = service.voices()
import voice_worker.app
print(json.dumps({"torch": "torch" in sys.modules, "voices": len(voices)}))
"""


def probe(env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_default_server_and_worker_do_not_import_torch() -> None:
    assert probe({"VOICE_MODELS": "[]"}) == {"torch": False, "voices": 1}


def test_configured_qwen3_model_imports_torch_only_when_loaded(custom_voice: Path) -> None:
    models = [{"name": "q", "backend": "qwen3", "path": str(custom_voice)}]
    # Building the backend reads config.json only; ListVoices works without torch.
    assert probe({"VOICE_MODELS": json.dumps(models)}) == {"torch": False, "voices": 10}
