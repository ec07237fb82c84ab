"""Server VAD: Silero VAD (the v6 ONNX model that faster-whisper ships, so nothing is
downloaded) over 32 ms frames of 16 kHz audio, and the turn detector on top of it.

The model is an LSTM: each 512-sample frame goes in with the last 64 samples of the
one before and the recurrent state (h, c) it left; a batch of frames in one call is the
same as frame by frame, so an append of many frames costs one ONNX call. A frame costs
~0.1 ms on this CPU; long appends run on a thread anyway (`TurnDetector.costly`).

`TurnDetector` follows Silero's own rule: speech starts at the first frame whose
probability reaches the threshold; silence starts at the first frame below
`threshold - 0.15` and is ended only by a frame at the threshold again; speech stops
once silence has lasted `silence_duration_ms`. Times are milliseconds of input audio
since the connection began, at the frame's edge (32 ms resolution). It also says when
silence has lasted `early_ms` (`SilenceBegan`), so the speech so far can be transcribed
while the silence window runs out, and `SpeechResumed` if the user then goes on."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FRAME = 512  # samples at 16 kHz
FRAME_MS = 32
CONTEXT = 64
NEGATIVE_MARGIN = 0.15  # silence is below threshold - margin (Silero's hysteresis)
#: frames that an append may carry before its VAD runs on a thread
INLINE_FRAMES = 8

Floats = npt.NDArray[np.float32]


def model_path() -> Path:
    from faster_whisper.utils import get_assets_path

    return Path(get_assets_path()) / "silero_vad_v6.onnx"


class SileroModel:
    """The ONNX session, one per process (ONNX Runtime runs a session from several
    threads at once)."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self.session: Any = onnxruntime.InferenceSession(
            str(path or model_path()), providers=["CPUExecutionProvider"], sess_options=options
        )

    def run(self, frames: Floats, state: VadState) -> Floats:
        """Speech probabilities of `frames` (n x 512), continuing `state` (updated)."""
        rows = np.empty((len(frames), CONTEXT + FRAME), dtype=np.float32)
        rows[:, CONTEXT:] = frames
        rows[0, :CONTEXT] = state.context
        rows[1:, :CONTEXT] = frames[:-1, -CONTEXT:]
        probs, state.h, state.c = self.session.run(
            None, {"input": rows, "h": state.h, "c": state.c}
        )
        state.context = frames[-1, -CONTEXT:].copy()
        return np.asarray(probs, dtype=np.float32).reshape(-1)


@cache
def shared_model() -> SileroModel:
    return SileroModel()


class VadState:
    def __init__(self) -> None:
        self.h = np.zeros((1, 1, 128), dtype=np.float32)
        self.c = np.zeros((1, 1, 128), dtype=np.float32)
        self.context = np.zeros(CONTEXT, dtype=np.float32)


@dataclass(frozen=True)
class VadConfig:
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True


@dataclass(frozen=True)
class SpeechStarted:
    at_ms: int  # the first speech frame's start (prefix padding not included)


@dataclass(frozen=True)
class SilenceBegan:
    at_ms: int  # where the silence began: the speech so far ends here


@dataclass(frozen=True)
class SpeechResumed:
    pass


@dataclass(frozen=True)
class SpeechStopped:
    at_ms: int  # the frame where the silence window ran out (what the protocol reports)
    speech_end_ms: int  # where the silence began


VadEvent = SpeechStarted | SilenceBegan | SpeechResumed | SpeechStopped


class TurnDetector:
    def __init__(self, model: SileroModel, config: VadConfig, early_ms: int = -1) -> None:
        self.model = model
        self.config = config
        self.early_ms = early_ms
        self.state = VadState()
        self.pending = np.zeros(0, dtype=np.float32)
        self.frames = 0  # frames seen so far
        self.speaking = False
        self.silence_ms: int | None = None  # where the current silence began
        self.early_told = False
        self._lock = threading.Lock()

    def costly(self, samples: int) -> bool:
        return (len(self.pending) + samples) // FRAME > INLINE_FRAMES

    def feed(self, samples: Floats) -> list[VadEvent]:
        """16 kHz samples in (any length), the turn's events out, in order."""
        with self._lock:
            data = np.concatenate([self.pending, samples]) if len(self.pending) else samples
            whole = len(data) // FRAME
            self.pending = data[whole * FRAME :].copy()
            if not whole:
                return []
            probs = self.model.run(data[: whole * FRAME].reshape(whole, FRAME), self.state)
            events: list[VadEvent] = []
            for p in probs:
                self._step(float(p), self.frames * FRAME_MS, events)
                self.frames += 1
            return events

    def _step(self, p: float, start: int, events: list[VadEvent]) -> None:
        c = self.config
        if not self.speaking:
            if p >= c.threshold:
                self.speaking, self.silence_ms, self.early_told = True, None, False
                events.append(SpeechStarted(start))
            return
        if p >= c.threshold:
            if self.silence_ms is not None:
                self.silence_ms = None
                if self.early_told:
                    self.early_told = False
                    events.append(SpeechResumed())
        elif p < max(c.threshold - NEGATIVE_MARGIN, 0.01) and self.silence_ms is None:
            self.silence_ms = start
        if self.silence_ms is None:
            return
        silent = start + FRAME_MS - self.silence_ms
        if silent >= c.silence_duration_ms:
            events.append(SpeechStopped(start + FRAME_MS, self.silence_ms))
            self.speaking, self.silence_ms, self.early_told = False, None, False
        elif 0 <= self.early_ms <= silent and not self.early_told:
            self.early_told = True
            events.append(SilenceBegan(self.silence_ms))

    def reset(self, config: VadConfig | None = None) -> None:
        """Forget the speech in progress (the buffer was cleared or the config changed);
        the model's state goes on, as the audio does."""
        with self._lock:
            self.config = config or self.config
            self.speaking, self.silence_ms, self.early_told = False, None, False
