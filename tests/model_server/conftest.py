"""Model server fixtures: real Piper voices, instrumented to count what they do."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest

from model_server.backends.base import FloatArray, SynthesisJob
from model_server.backends.piper import PiperBackend, bundled_voice_path


class CountingPiper(PiperBackend):
    """The real Piper voice, counting loads, unloads and synthesized jobs; `gate`, when
    given, holds `load` until it is set (to line up concurrent first requests)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__(bundled_voice_path(), workers=2)
        self.loads = 0
        self.unloads = 0
        self.jobs_run = 0
        self.gate = gate

    def load(self) -> None:
        if self.gate is not None:
            assert self.gate.wait(10), "load gate never opened"
        self.loads += 1
        super().load()

    def unload(self) -> None:
        self.unloads += 1
        super().unload()

    def synthesize_batch(self, jobs: Sequence[SynthesisJob]) -> list[FloatArray]:
        self.jobs_run += sum(not j.cancelled.is_set() for j in jobs)
        return super().synthesize_batch(jobs)

    def stream(self, job: SynthesisJob) -> Iterator[FloatArray]:
        self.jobs_run += 1
        return super().stream(job)


@pytest.fixture
def counting_piper() -> type[CountingPiper]:
    return CountingPiper
