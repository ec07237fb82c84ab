"""After an unload, memory returns to its level before the load.

Two counters, because each alone can mislead:
- live tensor bytes: every torch tensor the garbage collector can still reach, its
  storage counted once. Exact and immune to allocator caching, so a margin of a few
  kilobytes catches any tensor the backend (or the library through it) keeps alive.
  tracemalloc cannot do this: torch allocates outside Python's allocator.
- process RSS (/proc/self/statm) after `malloc_trim(0)`, which returns freed heap pages
  to the OS: catches memory held outside tensors (copies of the file, native buffers).
  RSS moves by a few MB for unrelated reasons, so the model here holds ~80 MB and the
  margin is 16 MB.
A first load/unload cycle runs before the measured one: one-time costs (lazy imports,
kernel and tokenizer caches) are not leaks.
"""

from __future__ import annotations

import ctypes
import gc
import os
import weakref
from pathlib import Path

import pytest

from model_server.backends.base import SynthesisJob
from model_server.backends.qwen3 import Qwen3Backend, Qwen3Options
from tests.qwen3.conftest import greedy

MB = 2**20


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.qwen3_checkpoints import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("qwen3-small"), "small", seed=5)


def live_tensor_bytes() -> int:
    import warnings

    import torch

    warnings.filterwarnings("ignore", category=FutureWarning)  # torch.distributed aliases
    gc.collect()
    seen: set[int] = set()
    total = 0
    for obj in gc.get_objects():
        if type(obj) in weakref.ProxyTypes:  # isinstance on a dead proxy raises
            continue
        if isinstance(obj, torch.Tensor) and obj.device.type == "cpu":
            storage = obj.untyped_storage()
            if storage.data_ptr() not in seen:
                seen.add(storage.data_ptr())
                total += storage.nbytes()
    return total


def rss_bytes() -> int:
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cycle(backend: Qwen3Backend) -> None:
    backend.load()
    backend.synthesize_batch([SynthesisJob("Warm up.", "Vivian", "English")])
    backend.unload()


def test_unload_returns_memory(small_checkpoint: Path) -> None:
    options = greedy()
    backend = Qwen3Backend(
        small_checkpoint,
        Qwen3Options(
            seed=0,
            fixed_frames=4,
            generate=options["generate"],  # type: ignore[arg-type]
        ),
    )
    cycle(backend)

    tensors_before, rss_before = live_tensor_bytes(), rss_bytes()
    backend.load()
    model_ref = weakref.ref(backend._tts.model)
    backend.synthesize_batch([SynthesisJob("Hello there.", "Vivian", "English")] * 4)
    held = backend.memory_bytes()
    assert held > 60 * MB  # parameters and buffers of the talker and speech tokenizer
    assert live_tensor_bytes() - tensors_before >= held * 0.95
    assert rss_bytes() - rss_before >= held * 0.8

    backend.unload()
    assert backend.memory_bytes() == 0
    assert model_ref() is None, "the model object is still referenced after unload"
    assert live_tensor_bytes() - tensors_before < 64 * 1024
    assert rss_bytes() - rss_before < 16 * MB


def test_unload_returns_gpu_memory(small_checkpoint: Path) -> None:
    """On a GPU: memory_bytes is the CUDA memory the load took, and all of it (within
    1 MB) is allocated no more after unload; the cache is given back too."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device (runs on a GPU machine)")
    backend = Qwen3Backend(small_checkpoint, Qwen3Options(seed=0, fixed_frames=4, device="cuda"))
    cycle(backend)
    torch.cuda.synchronize()
    allocated, reserved = torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
    backend.load()
    backend.synthesize_batch([SynthesisJob("Hello there.", "Vivian", "English")] * 8)
    held = backend.memory_bytes()
    assert held > 30 * MB  # the ~88 MB float32 checkpoint loads as ~44 MB of bfloat16
    assert torch.cuda.memory_allocated() - allocated >= held * 0.9
    backend.unload()
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() - allocated < MB
    assert torch.cuda.memory_reserved() - reserved < 2 * MB
