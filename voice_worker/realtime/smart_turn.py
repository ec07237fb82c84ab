"""Semantic end of turn: pipecat's smart-turn v3 model (BSD-2-Clause, Daily), which
judges from the sound of the utterance so far whether the speaker has finished.

The ONNX file ships inside the `pipecat-ai` wheel, installed without its dependencies
(`make install`); it is found through the wheel's metadata and loaded with ONNX Runtime,
pipecat itself is never imported. What the model reads, as pipecat's
`LocalSmartTurnAnalyzerV3` feeds it: the last 8 s of the utterance at 16 kHz
(zero-padded at the start), as Whisper log-mel features (80 x 800, the waveform
normalised to zero mean and unit variance first), input `input_features`; its output is
the probability that the turn is complete. `log_mel` is a port of pipecat's
`_whisper_features.py` (Copyright (c) 2024-2026, Daily, BSD-2-Clause; itself derived
from Hugging Face Transformers' WhisperFeatureExtractor, Apache-2.0); the unit tests
check it against that file. One window costs ~150 ms on one thread of this CPU: it runs
off the event loop (realtime/input.py feeds the detector on a thread)."""

from __future__ import annotations

import importlib.metadata
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

RATE = 16_000
WINDOW = 8 * RATE  # the samples the model reads
PRE_SPEECH_MS = 500  # audio before the speech's start that the model also hears (pipecat's)
DISTRIBUTION = "pipecat-ai"
MODEL_FILE = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
N_FFT, HOP, N_MELS = 400, 160, 80

Floats = npt.NDArray[np.float32]


class EndOfTurnModel(Protocol):
    """How likely the speaker has finished, from the audio of the utterance so far."""

    def probability(self, audio: Floats) -> float: ...


class ModelMissing(RuntimeError):
    """The smart-turn model is not installed (the `pipecat-ai` wheel)."""


def model_path() -> Path | None:
    """The ONNX file in the installed `pipecat-ai` wheel (None: not installed)."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(MODEL_FILE)))
    return path if path.is_file() else None


def _slaney_mel(freq: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    mels = 3.0 * freq / 200.0
    log = freq >= 1000.0
    mels[log] = 15.0 + np.log(freq[log] / 1000.0) * (27.0 / np.log(6.4))
    return mels


def _slaney_hertz(mels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    freq = 200.0 * mels / 3.0
    log = mels >= 15.0
    freq[log] = 1000.0 * np.exp(np.log(6.4) / 27.0 * (mels[log] - 15.0))
    return freq


def _mel_filters() -> npt.NDArray[np.float64]:
    """Slaney-normalised triangular filters, (201 frequency bins, 80 mels)."""
    edges = np.array([0.0, RATE / 2.0])
    low, high = _slaney_mel(edges)
    hertz = _slaney_hertz(np.linspace(low, high, N_MELS + 2))
    bins = np.linspace(0, RATE // 2, N_FFT // 2 + 1)
    slopes = hertz[None, :] - bins[:, None]
    widths = np.diff(hertz)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    return filters * (2.0 / (hertz[2:] - hertz[:-2]))[None, :]


_FILTERS_T = _mel_filters().T
_HANN = np.hanning(N_FFT + 1)[:-1]  # periodic


def log_mel(audio: Floats) -> Floats:
    """Whisper's log-mel features of 8 s of 16 kHz audio (shorter: zero-padded at the end,
    longer: cut), normalised as smart-turn was trained: (80, 800) float32."""
    x = np.zeros(WINDOW, dtype=np.float32)
    n = min(len(audio), WINDOW)
    x[:n] = audio[:n]
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    padded = np.pad(x.astype(np.float64), (N_FFT // 2, N_FFT // 2), mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(windows * _HANN, axis=-1)) ** 2
    mel = np.log10(np.maximum(1e-10, _FILTERS_T @ power.T))[:, :-1]
    mel = np.maximum(mel, mel.max() - 8.0)
    features: Floats = ((mel + 4.0) / 4.0).astype(np.float32)
    return features


def last_window(audio: Floats) -> Floats:
    """The last 8 s of `audio`, zero-padded at the start."""
    if len(audio) >= WINDOW:
        return np.asarray(audio[-WINDOW:], dtype=np.float32)
    out = np.zeros(WINDOW, dtype=np.float32)
    out[WINDOW - len(audio) :] = audio
    return out


class SmartTurnModel:
    """The ONNX session, one per process, run on one thread."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime

        path = path or model_path()
        if path is None:
            raise ModelMissing(
                "the smart-turn model is not installed: pip install --no-deps pipecat-ai==1.14.0"
            )
        options = onnxruntime.SessionOptions()
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 4
        self.session: Any = onnxruntime.InferenceSession(
            str(path), providers=["CPUExecutionProvider"], sess_options=options
        )

    def probability(self, audio: Floats) -> float:
        """The probability that the utterance `audio` (16 kHz, the last 8 s read) is
        complete."""
        features = log_mel(last_window(audio))[None]
        (out,) = self.session.run(None, {"input_features": features})
        return float(np.asarray(out).reshape(-1)[0])


def available() -> bool:
    return model_path() is not None


@cache
def shared_model() -> SmartTurnModel:
    return SmartTurnModel()
