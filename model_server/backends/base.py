"""The one interface every text-to-speech engine implements (Piper, Qwen3-TTS, ...).

A backend object is one configured model. The registry calls `load`/`unload`; the
service calls `synthesize_batch` (unary requests, batched by the dynamic batcher) and
`stream` (one sentence at a time for streamed replies) from worker threads, never on
the event loop, so both may block. A backend that fails raises `BackendError` (or
anything else: the runner reports it as the model's failure). Backends never import grpc.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from model_server.errors import BackendError

__all__ = [
    "BackendError",
    "BatchStreamer",
    "FloatArray",
    "SynthesisJob",
    "TTSBackend",
    "VoiceCloner",
    "VoiceInfo",
]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class VoiceInfo:
    name: str
    languages: tuple[str, ...]
    gender: str = ""
    description: str = ""


@dataclass
class SynthesisJob:
    """One piece of text to speak, already validated by the service."""

    text: str
    voice: str
    language: str = ""
    speed: float = 1.0
    instructions: str = ""
    # Set when the caller went away (cancel or deadline): backends check it between
    # steps and stop early instead of finishing audio nobody will receive.
    cancelled: threading.Event = field(default_factory=threading.Event)


@runtime_checkable
class TTSBackend(Protocol):
    """One text-to-speech model."""

    #: Output sample rate of every array this backend returns (mono float32 in [-1, 1]).
    sample_rate: int
    #: Largest list `synthesize_batch` accepts (1 for engines that cannot batch).
    max_batch_size: int
    #: Calls that may run at once on separate threads (CPU cores for Piper, 1 per GPU).
    max_concurrency: int
    #: Whether `instructions` (a style prompt) means anything to this model.
    accepts_instructions: bool

    def voices(self) -> Sequence[VoiceInfo]:
        """The voices this model speaks, known without loading it (first = default)."""
        ...

    def load(self) -> None:
        """Bring the weights into memory; blocking."""
        ...

    def unload(self) -> None:
        """Release every resource `load` took."""
        ...

    def memory_bytes(self) -> int:
        """Memory the loaded model holds (device memory for GPU backends)."""
        ...

    def synthesize_batch(self, jobs: Sequence[SynthesisJob]) -> list[FloatArray]:
        """Audio for each job, in order."""
        ...

    def stream(self, job: SynthesisJob) -> Iterator[FloatArray]:
        """Audio for one job in blocks, each yielded as soon as it exists."""
        ...


# Optional capabilities: a backend that has one of these is used through it.


@runtime_checkable
class BatchStreamer(Protocol):
    """Several streams in one engine call (Qwen3-TTS): the runner gathers concurrent
    streams into batches as it does unary requests."""

    def stream_batch(
        self, jobs: Sequence[SynthesisJob]
    ) -> Generator[tuple[int, FloatArray | None], None, None]:
        """`(index, block)` as audio exists, `(index, None)` when job `index` is done;
        closing the generator stops the work."""
        ...


@runtime_checkable
class VoiceCloner(Protocol):
    """Voices registered at run time from a reference clip (Qwen3-TTS Base)."""

    #: whether this model (not only its class) clones: a CustomVoice checkpoint does not
    clones_voices: bool

    def register_voice(
        self, name: str, audio: FloatArray, sample_rate: int, text: str = ""
    ) -> VoiceInfo:
        """Add or replace voice `name`; usable by the next request."""
        ...
