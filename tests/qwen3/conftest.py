"""Qwen3-TTS tests: the real `qwen-tts` library on random-weight checkpoints built here,
on the CPU. They need torch, so `make test` runs them in `.venv-qwen` (`make
install-qwen`); in an environment without qwen_tts they are not collected."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

if importlib.util.find_spec("qwen_tts") is None:  # the torch-free .venv
    collect_ignore_glob = ["test_*.py"]

#: Frames every synthesis makes (the end token is suppressed): 8 x 80 ms = 0.64 s.
FRAMES = 8
SAMPLES_PER_FRAME = 1920  # 24 kHz / 12.5 Hz
RATE = 24_000


def _build(root: Path, kind: str, seed: int) -> Path:
    from harness.qwen3_checkpoints import build_checkpoint

    return build_checkpoint(root / f"{kind}-{seed}", "tiny", kind=kind, seed=seed)


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qwen3-checkpoints")


@pytest.fixture(scope="session")
def custom_voice(checkpoints: Path) -> Path:
    return _build(checkpoints, "custom_voice", 0)


@pytest.fixture(scope="session")
def custom_voice_b(checkpoints: Path) -> Path:
    return _build(checkpoints, "custom_voice", 1)


@pytest.fixture(scope="session")
def voice_design(checkpoints: Path) -> Path:
    return _build(checkpoints, "voice_design", 2)


@pytest.fixture(scope="session")
def base_model(checkpoints: Path) -> Path:
    return _build(checkpoints, "base", 3)


def greedy(**extra: object) -> dict[str, object]:
    """Options for reproducible audio of a known length from random weights: greedy
    decoding (batching cannot change it), the end token suppressed, FRAMES frames."""
    return {
        "seed": 0,
        "fixed_frames": FRAMES,
        "generate": {"do_sample": False, "subtalker_dosample": False},
        **extra,
    }


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> None:
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core machine
    OpenMP's spinning threads make run times erratic."""
    import torch

    torch.set_num_threads(1)
