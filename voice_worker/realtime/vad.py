"""Server VAD: Silero VAD (the v6 ONNX model that faster-whisper ships, so nothing is
downloaded) over 32 ms frames of 16 kHz audio, and the turn detector on top of it.

The model is an LSTM: each 512-sample frame goes in with the last 64 samples of the
one before and the recurrent state (h, c) it left; a batch of frames in one call is the
same as frame by frame, so an append of many frames costs one ONNX call. A frame costs
~0.1 ms on this CPU; long appends run on a thread anyway (`TurnDetector.costly`).

`TurnDetector` follows Silero's own rule: speech starts at the first frame whose
probability reaches the threshold; silence starts at the first frame below
`threshold - 0.15` and is ended only by a frame at the threshold again; speech stops
once silence has lasted `silence_duration_ms`. Silero's probability moves a frame or
three after the sound does, so each edge is then moved back to where the loudness
crossed a tenth of the speech's (at most `LOOKBACK` frames): speech starts and stops
within a frame of the sound, and the silence window runs from the real end. Times are
milliseconds of input audio since the connection began, at a frame's edge (32 ms
resolution). It also says when silence has lasted `early_ms` (`SilenceBegan`), so the
speech so far can be transcribed while the silence window runs out, again at
`soft_end_ms` (the speech's soft ending, a last "s" below a tenth of the loudness, is
in the audio by then; with semantic_vad only then), and `SpeechResumed` if the user
then goes on.

With `semantic_vad` (`VadConfig.eagerness`) the silence window is not what ends the
turn: at the checkpoints of realtime/semantic.py the detector stops at a `TurnCheck`
(the frames after it wait, already through Silero); the caller asks the end-of-turn
model (`judge`, ~150 ms: on a thread) and hands the probability to `verdict`, which
ends the turn there (`SpeechStopped` at the checkpoint) or goes on. The result does not
depend on how the audio was cut into appends, nor on how long the model took."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voice_worker.realtime import smart_turn
from voice_worker.realtime.semantic import EAGERNESS, Pause
from voice_worker.realtime.smart_turn import EndOfTurnModel

FRAME = 512  # samples at 16 kHz
FRAME_MS = 32
CONTEXT = 64
NEGATIVE_MARGIN = 0.15  # silence is below threshold - margin (Silero's hysteresis)
#: frames that an append may carry before its VAD runs on a thread
INLINE_FRAMES = 8
LOOKBACK = 3  # frames an edge may move back to where the loudness changed
QUIET = 0.1  # a frame is quiet below this share of the speech's loudness (-20 dB)
PRE_SPEECH = smart_turn.PRE_SPEECH_MS * 16  # samples before the speech the model hears
#: speech this soon after a turn ended goes on the same thought: the end-of-turn model
#: hears both (a fragment alone, "ask not", sounds finished)
THOUGHT_GAP_MS = 2000

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
    #: semantic_vad: low, medium, high or auto (realtime/semantic.py); None: server_vad
    eagerness: str | None = None


@dataclass(frozen=True)
class SpeechStarted:
    at_ms: int  # the first speech frame's start (prefix padding not included)


@dataclass(frozen=True)
class SilenceBegan:
    at_ms: int  # where the silence began: the speech so far ends here
    until_ms: int = 0  # the frame's end when it is told: the audio there so far


@dataclass(frozen=True)
class TurnCheck:
    """semantic_vad: judge the utterance up to `at_ms` (a frame's end), then `verdict`."""

    at_ms: int
    speech_end_ms: int  # where the silence began
    silent_ms: int


@dataclass(frozen=True)
class SpeechResumed:
    pass


@dataclass(frozen=True)
class SpeechStopped:
    at_ms: int  # the frame where the silence window ran out (what the protocol reports)
    speech_end_ms: int  # where the silence began


VadEvent = SpeechStarted | SilenceBegan | SpeechResumed | SpeechStopped | TurnCheck


class TurnDetector:
    def __init__(
        self,
        model: SileroModel,
        config: VadConfig,
        early_ms: int = -1,
        soft_end_ms: int = -1,
        end_model: EndOfTurnModel | None = None,
    ) -> None:
        self.model = model
        self.config = config
        #: the silences at which `SilenceBegan` is told (none when early_ms is -1)
        soft = max(early_ms, soft_end_ms)
        self.early_points = () if early_ms < 0 else tuple(sorted({early_ms, soft}))
        self.end_model = end_model  # None: the shared smart-turn model, when first needed
        self.state = VadState()
        self.pending = np.zeros(0, dtype=np.float32)
        self.queue: deque[tuple[float, float]] = deque()  # (probability, RMS) not yet stepped
        self.history = np.zeros(0, dtype=np.float32)  # the last samples, for the model
        self.history_start = 0  # the sample index of history[0]
        self.frames = 0  # frames stepped so far
        self.loudness: deque[float] = deque(maxlen=LOOKBACK + 1)  # RMS of the last frames
        self.level = 0.0  # the loudest speech frame of the speech in progress
        self.floor = 0  # frames before this one belong to the last speech
        self.speaking = False
        self.speech_frame = 0  # where the speech in progress started
        self.thought_frame = 0  # where its thought started (semantic_vad: THOUGHT_GAP_MS)
        self.silence_ms: int | None = None  # where the current silence began
        self.told = 0  # early points told in the current silence
        self.pause: Pause | None = None  # semantic_vad: the current silence's judgements
        self.checking: TurnCheck | None = None  # waiting for its verdict
        self._lock = threading.Lock()

    def costly(self, samples: int) -> bool:
        return (len(self.pending) + samples) // FRAME > INLINE_FRAMES

    def feed(self, samples: Floats) -> list[VadEvent]:
        """16 kHz samples in (any length), the turn's events out, in order (the last a
        `TurnCheck` when the utterance is to be judged: the rest waits for `verdict`)."""
        with self._lock:
            data = np.concatenate([self.pending, samples]) if len(self.pending) else samples
            whole = len(data) // FRAME
            self.pending = data[whole * FRAME :].copy()
            if not whole:
                return []
            frames = data[: whole * FRAME].reshape(whole, FRAME)
            probs = self.model.run(frames, self.state)
            rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
            self.queue.extend(zip(probs.tolist(), rms.tolist(), strict=True))
            self._remember(frames.reshape(-1))
            events: list[VadEvent] = []
            self._run(events)
            return events

    def _remember(self, samples: Floats) -> None:
        """The samples the end-of-turn model may read (semantic_vad only)."""
        keep = smart_turn.WINDOW + FRAME * len(self.queue) if self.config.eagerness else 0
        joined = np.concatenate([self.history, samples])
        cut = max(0, len(joined) - keep)
        self.history = joined[cut:]
        self.history_start += cut

    def _run(self, events: list[VadEvent]) -> None:
        while self.queue and self.checking is None:
            p, loud = self.queue.popleft()
            self.loudness.append(loud)
            self._step(p, events)
            self.frames += 1

    # semantic_vad -----------------------------------------------------------------
    def judge(self) -> float:
        """The end-of-turn model's probability for the utterance up to the checkpoint
        (costly: run it on a thread). 0 when there is no checkpoint (a reset)."""
        with self._lock:
            check = self.checking
            if check is None:
                return 0.0
            end = check.at_ms * FRAME // FRAME_MS
            start = max(end - smart_turn.WINDOW, self.thought_frame * FRAME - PRE_SPEECH)
            audio = self.history[max(0, start - self.history_start) : end - self.history_start]
        model = self.end_model or smart_turn.shared_model()
        return model.probability(audio)

    def verdict(self, probability: float, words: str | None = None) -> list[VadEvent]:
        """The probability `judge` gave and the words heard up to the checkpoint (None:
        not known): the turn ends at the checkpoint (SpeechStopped) or goes on; the
        frames that waited are stepped."""
        with self._lock:
            events: list[VadEvent] = []
            check, self.checking = self.checking, None
            pause = self.pause
            if check is not None and pause and pause.complete(check.silent_ms, probability, words):
                events.append(SpeechStopped(check.at_ms, check.speech_end_ms))
                self._stopped(self.frames)
            self._run(events)
            return events

    # Silero's frames ----------------------------------------------------------------
    def _edge(self, reference: float) -> int:
        """The frame (index) where the sound crossed a tenth of `reference`, looking
        back from the current one: the first of the loud frames before it."""
        edge = self.frames
        recent = list(self.loudness)[:-1]  # before the current frame, newest last
        for back, loud in enumerate(reversed(recent), 1):
            if self.frames - back < self.floor or loud < QUIET * reference:
                break
            edge = self.frames - back
        return edge

    def _quiet_since(self) -> int:
        """The frame after the last loud one (the current frame is quiet)."""
        recent = list(self.loudness)[:-1]
        for back, loud in enumerate(reversed(recent), 1):
            if self.frames - back < self.floor:
                break
            if loud >= QUIET * self.level:
                return self.frames - back + 1
        return max(self.floor, self.frames - len(recent))

    def _step(self, p: float, events: list[VadEvent]) -> None:
        c = self.config
        start, loud = self.frames * FRAME_MS, self.loudness[-1]
        if not self.speaking:
            if p >= c.threshold:
                self.speaking, self.silence_ms, self.told = True, None, 0
                self.level = loud
                self.speech_frame = self._edge(loud)
                if self.floor == 0 or (self.speech_frame - self.floor) * FRAME_MS > THOUGHT_GAP_MS:
                    self.thought_frame = self.speech_frame
                events.append(SpeechStarted(self.speech_frame * FRAME_MS))
            return
        if p >= c.threshold:
            self.level = max(self.level, loud)
            if self.silence_ms is not None:
                self.silence_ms, self.pause = None, None
                if self.told:
                    self.told = 0
                    events.append(SpeechResumed())
        elif p < max(c.threshold - NEGATIVE_MARGIN, 0.01) and self.silence_ms is None:
            self.silence_ms = self._quiet_since() * FRAME_MS
            if c.eagerness is not None:
                self.pause = Pause(EAGERNESS[c.eagerness])
        if self.silence_ms is None:
            return
        end = start + FRAME_MS
        silent = end - self.silence_ms
        if self.pause.timed_out(silent) if self.pause else silent >= c.silence_duration_ms:
            events.append(SpeechStopped(end, self.silence_ms))
            self._stopped(self.frames + 1)
            return
        # semantic_vad judges at the soft end's point: one early transcript, from there
        points = self.early_points if c.eagerness is None else self.early_points[-1:]
        if self.told < len(points) and silent >= points[self.told]:
            while self.told < len(points) and silent >= points[self.told]:
                self.told += 1
            events.append(SilenceBegan(self.silence_ms, end))
        if self.pause is not None and self.pause.due(silent):
            self.checking = TurnCheck(end, self.silence_ms, silent)
            events.append(self.checking)

    def _stopped(self, floor: int) -> None:
        self.speaking, self.silence_ms, self.told, self.pause = False, None, 0, None
        self.floor = floor

    def reset(self, config: VadConfig | None = None) -> None:
        """Forget the speech in progress (the buffer was cleared or the config changed);
        the model's state goes on, as the audio does."""
        with self._lock:
            self.config = config or self.config
            self.speaking, self.silence_ms, self.told = False, None, 0
            self.pause, self.checking = None, None  # frames that waited: the next feed's
