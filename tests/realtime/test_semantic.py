"""semantic_vad without a server: the decision (when a pause is judged, what ends the
turn) with fake models, the detector's result independent of how the audio is cut; the
smart-turn features against pipecat's own extractor, and the real model on a finished
sentence and on one cut mid-clause."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.realtime.support import jfk_pcm
from voice_worker.realtime import smart_turn
from voice_worker.realtime.audio import Downsampler
from voice_worker.realtime.semantic import EAGERNESS, Pause, words_end
from voice_worker.realtime.vad import (
    FRAME,
    SilenceBegan,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    TurnCheck,
    TurnDetector,
    VadConfig,
    VadEvent,
    VadState,
)

Floats = smart_turn.Floats


class LoudIsSpeech:
    """A fake Silero: a frame is speech when it is loud."""

    def run(self, frames: Floats, state: VadState) -> Floats:
        loud = np.sqrt(np.mean(np.square(frames), axis=1)) > 0.05
        probabilities: Floats = loud.astype(np.float32)
        return probabilities


class Scripted:
    """A fake end-of-turn model: the probabilities it gives, in turn (the last repeats);
    it records how much audio it was given."""

    def __init__(self, *probabilities: float) -> None:
        self.probabilities = list(probabilities)
        self.lengths: list[int] = []

    def probability(self, audio: Floats) -> float:
        self.lengths.append(len(audio))
        return self.probabilities.pop(0) if len(self.probabilities) > 1 else self.probabilities[0]


def sound(*spans: tuple[str, float]) -> Floats:
    """16 kHz audio: ("tone", s) or ("quiet", s) spans."""
    parts = []
    for kind, seconds in spans:
        n = int(seconds * 16_000)
        t = np.arange(n) / 16_000
        parts.append(0.3 * np.sin(2 * np.pi * 220 * t) if kind == "tone" else np.zeros(n))
    return np.concatenate(parts).astype(np.float32)


def detect(
    audio: Floats, end_model: Scripted, eagerness: str = "medium", piece: int = 320
) -> list[VadEvent]:
    """The detector's events, each checkpoint judged at once (as realtime/input.py does)."""
    detector = TurnDetector(
        LoudIsSpeech(),  # type: ignore[arg-type]
        VadConfig(eagerness=eagerness),
        96,
        192,
        end_model,
    )
    events: list[VadEvent] = []
    for i in range(0, len(audio), piece):
        found = detector.feed(audio[i : i + piece])
        events += found
        while found and isinstance(found[-1], TurnCheck):
            found = detector.verdict(detector.judge())
            events += found
    return events


def test_the_checkpoints_of_each_eagerness() -> None:
    assert EAGERNESS["medium"].checkpoints() == (192, 384, 768, 1536, 3072)
    assert EAGERNESS["high"].checkpoints() == (128, 256, 512, 1024)
    assert EAGERNESS["low"].checkpoints() == (384, 768, 1536, 3072, 6144)
    assert EAGERNESS["auto"] == EAGERNESS["medium"]
    assert [EAGERNESS[e].max_ms for e in ("low", "medium", "high")] == [8000, 4000, 2000]
    pause = Pause(EAGERNESS["medium"])
    assert [pause.due(ms) for ms in (160, 192, 224, 384)] == [False, True, False, True]
    assert pause.due(2000)  # past 768 and 1536: judged once
    assert not pause.due(2100) and pause.due(3072) and not pause.due(3999)
    assert not pause.complete(192, 0.49) and pause.complete(384, 0.5)
    assert pause.seen == [(192, 0.49), (384, 0.5)]
    assert not pause.timed_out(3999) and pause.timed_out(4000)


def test_a_finished_thought_ends_at_the_first_judgement() -> None:
    model = Scripted(0.9)
    events = detect(sound(("quiet", 1.0), ("tone", 1.0), ("quiet", 2.0)), model)
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, SilenceBegan, TurnCheck, SpeechStopped]
    stopped = events[-1]
    assert isinstance(stopped, SpeechStopped)
    assert stopped.at_ms - stopped.speech_end_ms == 192
    early = events[1]  # one early transcript, at the soft end's point: it covers the turn
    assert isinstance(early, SilenceBegan) and early.until_ms == stopped.at_ms
    # the model heard the utterance and 0.5 s before it, up to the checkpoint
    started = events[0]
    assert isinstance(started, SpeechStarted)
    assert model.lengths == [(stopped.at_ms - started.at_ms + 500) * 16]


def test_an_unfinished_thought_waits_and_goes_on_as_one_utterance() -> None:
    model = Scripted(0.2, 0.3, 0.1, 0.95)  # the last for the end
    audio = sound(("quiet", 0.3), ("tone", 1.0), ("quiet", 0.9), ("tone", 0.8), ("quiet", 1.5))
    events = detect(audio, model)
    kinds = [type(e) for e in events]
    assert kinds.count(SpeechStarted) == 1 and kinds.count(SpeechStopped) == 1
    assert SpeechResumed in kinds
    checks = [e.silent_ms for e in events if isinstance(e, TurnCheck)]
    assert checks == [192, 384, 768, 192]  # the pause judged three times, the end once
    assert model.lengths[-1] > model.lengths[0]  # the window grew with the utterance


def test_at_the_longest_wait_the_turn_ends_anyway() -> None:
    for eagerness, longest in (("high", 2000), ("medium", 4000)):
        events = detect(sound(("tone", 1.0), ("quiet", 5.0)), Scripted(0.01), eagerness)
        stopped = [e for e in events if isinstance(e, SpeechStopped)]
        assert len(stopped) == 1
        waited = stopped[0].at_ms - stopped[0].speech_end_ms
        assert longest <= waited < longest + 32  # the first frame's end past it


def test_the_result_does_not_depend_on_how_the_audio_is_cut() -> None:
    audio = sound(("quiet", 0.3), ("tone", 0.7), ("quiet", 0.6), ("tone", 0.5), ("quiet", 2.5))
    by_frame = detect(audio, Scripted(0.2, 0.8, 0.9))
    assert detect(audio, Scripted(0.2, 0.8, 0.9), piece=len(audio)) == by_frame
    assert detect(audio, Scripted(0.2, 0.8, 0.9), piece=FRAME * 5 + 17) == by_frame
    assert [type(e) for e in by_frame].count(SpeechStopped) == 2  # 0.8 (at 384 ms) ended the first


def pipecat_features() -> ModuleType:
    """pipecat's numpy feature extractor, loaded from its file (it imports numpy only)."""
    path = smart_turn.model_path()
    if path is None:
        pytest.fail("the pipecat-ai wheel is not installed (make install)")
    source = Path(path).parent.parent / "_whisper_features.py"
    assert "import pipecat" not in source.read_text() and "from pipecat" not in source.read_text()
    spec = importlib.util.spec_from_file_location("pipecat_whisper_features", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def jfk_16k() -> Floats:
    return Downsampler().feed(jfk_pcm())


def test_the_features_are_pipecats() -> None:
    theirs = pipecat_features().compute_whisper_log_mel_features
    audio = jfk_16k()
    for window in (smart_turn.last_window(audio[: 3 * 16_000]), smart_turn.last_window(audio)):
        ours = smart_turn.log_mel(window)
        assert ours.shape == (80, 800) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs(window, do_normalize=True), atol=1e-5)


def test_smart_turn_hears_a_finished_sentence_from_one_cut_mid_clause() -> None:
    model = smart_turn.SmartTurnModel()
    audio = jfk_16k()
    # "... ask what you can do for your country." and "... ask not", each with 0.2 s of
    # the pause after it
    watch = time.perf_counter()
    finished = model.probability(audio[: int(10.6 * 16_000)])
    per_window_ms = (time.perf_counter() - watch) * 1000
    cut = model.probability(audio[: int(4.5 * 16_000)])
    print(f"smart-turn: finished {finished:.3f}, cut {cut:.3f}, {per_window_ms:.0f} ms")
    assert finished > 0.5 > cut


def test_server_vad_transcribes_early_twice_and_commits_the_soft_ending() -> None:
    detector = TurnDetector(LoudIsSpeech(), VadConfig(silence_duration_ms=500), 96, 192)  # type: ignore[arg-type]
    audio = sound(("quiet", 0.5), ("tone", 1.0), ("quiet", 1.0))
    events = [e for i in range(0, len(audio), 320) for e in detector.feed(audio[i : i + 320])]
    assert [type(e) for e in events] == [SpeechStarted, SilenceBegan, SilenceBegan, SpeechStopped]
    early, soft = events[1], events[2]
    assert isinstance(early, SilenceBegan) and early.until_ms - early.at_ms == 96
    assert isinstance(soft, SilenceBegan) and soft.until_ms - soft.at_ms == 192


async def test_the_commit_uses_an_early_transcript_only_if_it_has_the_soft_ending() -> None:
    from voice_worker.conversation.turn import Heard
    from voice_worker.realtime.audio import BYTES_PER_MS
    from voice_worker.realtime.input import InputAudio, TurnEnded
    from voice_worker.realtime.settings import RealtimeSettings

    tone = (0.3 * np.sin(np.arange(24_000) / 24_000 * 2 * np.pi * 220) * 32767).astype("<i2")
    pcm = b"\0" * 24_000 + tone.tobytes() + b"\0" * 48_000
    for window, reused in ((500, True), (160, False)):
        asked: list[int] = []

        def transcribe(wav: bytes, asked: list[int] = asked) -> asyncio.Task[Heard]:
            asked.append((len(wav) - 44) // BYTES_PER_MS)
            return asyncio.create_task(asyncio.sleep(3600))  # type: ignore[arg-type]

        audio = InputAudio(
            RealtimeSettings(),
            LoudIsSpeech(),  # type: ignore[arg-type]
            VadConfig(silence_duration_ms=window),
            transcribe,
        )
        ended = []
        for i in range(0, len(pcm), 960):
            ended += [e for e in await audio.append(pcm[i : i + 960]) if isinstance(e, TurnEnded)]
        (turn,) = ended
        assert (turn.utterance.early is not None) == reused, (window, asked)
        audio.close()


@pytest.mark.parametrize(
    ("words", "end"),
    [
        ("I want to plan a trip to the mountain and...", "unfinished"),
        ("And so my fellow Americans,", "unfinished"),
        ("I think I will go for a run so.", "unfinished"),  # Whisper's period, "so" leads
        ("Can you tell me how long to", "unfinished"),
        ("So what I'm wondering is um", "unfinished"),
        ("Where are you from?", "finished"),  # a question may end on a preposition
        ("Turn the kitchen light on.", "finished"),
        ("I need to know what to pack.", "finished"),
        ("Small and very loud!", "finished"),
        ("So what I'm wondering is", "unfinished"),  # no period after an auxiliary
        ("Yes, I can.", "finished"),
        ("whether it will rain tomorrow", None),  # no punctuation: the words do not say
        ("", "unfinished"),  # Whisper leaves out an "uh": nothing said yet
        (None, None),
    ],
)
def test_how_the_words_end(words: str | None, end: str | None) -> None:
    assert words_end(words) == end


def test_the_words_and_the_model_together() -> None:
    """Unfinished words hold the turn whatever the model says, until a silence of
    `patience_ms` it agrees with; finished words end it unless the model objects (under a
    quarter of the threshold), and at `patience_ms` even then; without words the model
    alone decides."""
    medium = EAGERNESS["medium"]
    patience = medium.patience_ms
    pause = Pause(medium)
    assert not pause.complete(192, 0.99, "I went to the market and...")
    assert not pause.complete(patience - 1, 0.99, "the market and")
    assert pause.complete(patience, 0.99, "the market and")
    assert not pause.complete(patience, 0.1, "the market and")
    assert pause.complete(192, 0.2, "I need to know what to pack.")
    assert not pause.complete(192, 0.1, "What is a good name for a dog that is?")
    assert pause.complete(patience, 0.01, "I need to know what to pack.")
    assert pause.complete(192, 0.6, None) and not pause.complete(192, 0.4, "it will rain")
