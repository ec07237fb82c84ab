"""Whisper models compared (VOICE_STT__LOCAL__MODEL): word error rate on jfk.flac clean
and with white noise at 10 dB and 0 dB SNR (seeded numpy noise, scaled to the clip's
power), and the time of one transcription (median of REPEATS, the worker's settings:
int8, beam 5, every core). A model that is not installed is reported as such (`base`:
`make install-whisper-base`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.report import median, print_table, write_result
from harness.processes import DATA, JFK_TRANSCRIPT, word_error_rate
from shared.audio.decoding import decode
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.stt.whisper_models import MODELS, ModelNotInstalled, model_path

REPEATS = 3
SNRS: tuple[float | None, ...] = (None, 10.0, 0.0)  # None: clean
SEED = 19


def noisy(samples: npt.NDArray[np.float32], snr_db: float | None) -> npt.NDArray[np.float32]:
    """`samples` with white noise `snr_db` below their power (None: as they are)."""
    if snr_db is None:
        return samples
    power = float(np.mean(samples.astype(np.float64) ** 2))
    noise = np.random.default_rng(SEED).standard_normal(len(samples))
    noise *= np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(samples + noise, -1.0, 1.0).astype(np.float32)


async def measure(name: str, samples: npt.NDArray[np.float32]) -> list[dict[str, Any]]:
    from voice_worker.stt.local import LocalWhisperSTT

    stt = LocalWhisperSTT(model=name)
    options = TranscriptionOptions(language="en")
    rows = []
    try:
        await stt.transcribe_samples(samples[:16000], options)  # warm-up
        for snr in SNRS:
            audio = noisy(samples, snr)
            seconds, text = [], ""
            for _ in range(REPEATS):
                start = time.perf_counter()
                text = (await stt.transcribe_samples(audio, options)).text
                seconds.append(time.perf_counter() - start)
            rows.append(
                {
                    "model": name,
                    "audio": "clean" if snr is None else f"{snr:g} dB SNR",
                    "wer": round(word_error_rate(JFK_TRANSCRIPT, text), 3),
                    "transcription_ms": round(median(seconds) * 1000),
                    "heard": text,
                }
            )
    finally:
        await stt.close()
    return rows


def main() -> None:
    samples = decode((DATA / "jfk.flac").read_bytes(), 16000).samples
    rows: list[dict[str, Any]] = []
    missing = []
    for name in MODELS:
        try:
            model_path(name)
        except ModelNotInstalled as exc:
            missing.append(f"{name}: {exc}")
            continue
        rows += asyncio.run(measure(name, samples))
    table = [{k: v for k, v in row.items() if k != "heard"} for row in rows]
    print_table(f"whisper models on jfk.flac ({len(samples) / 16000:.1f} s), beam 5, int8", table)
    for line in missing:
        print(f"not measured: {line}")
    write_result("stt_models", {"rows": rows, "repeats": REPEATS, "seed": SEED, "missing": missing})


if __name__ == "__main__":
    main()
