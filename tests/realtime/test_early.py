"""The early transcript (issue 19): what the input buffer hands to speech-to-text when
the user falls silent covers the soft ending after the edge the VAD finds, so the
committed transcript (which reuses it) does not clip "Americans" to "America"."""

from __future__ import annotations

import asyncio

import pytest

from shared.audio.encoding import wav_header
from tests.realtime.support import FRAME, jfk_pcm, silence
from tests.realtime.test_units import question
from voice_worker.conversation.turn import Heard
from voice_worker.realtime.input import EARLY_TAIL_MS, InputAudio, TurnEnded
from voice_worker.realtime.settings import RealtimeSettings
from voice_worker.realtime.vad import VadConfig, shared_model
from voice_worker.stt.base import Transcript, TranscriptionOptions
from voice_worker.stt.local import LocalWhisperSTT

WAV_HEADER = 44


async def early_audio(pcm: bytes, window_ms: int) -> list[tuple[bytes, TurnEnded]]:
    """Each turn of `pcm` (server VAD, 20 ms appends) with the audio its utterance's
    early transcript was given (b"" when it had none)."""
    given: dict[int, bytes] = {}

    def transcribe(wav: bytes) -> asyncio.Task[Heard]:
        async def heard() -> Heard:
            return Heard(Transcript(""), 0.0)

        task = asyncio.create_task(heard())
        given[id(task)] = wav[WAV_HEADER:]
        return task

    vad = VadConfig(silence_duration_ms=window_ms)
    audio = InputAudio(RealtimeSettings(), shared_model(), vad, transcribe)
    found: list[tuple[bytes, TurnEnded]] = []
    for i in range(0, len(pcm), FRAME):
        for event in await audio.append(pcm[i : i + FRAME]):
            if isinstance(event, TurnEnded):
                early = event.utterance.early
                found.append((given.get(id(early), b""), event))
    audio.close()
    return found


async def test_the_early_transcript_hears_past_the_sounds_edge() -> None:
    pcm, _, end_ms = question()
    ((early, turn),) = await early_audio(pcm, 500)
    assert early, "no early transcript"
    assert turn.utterance.audio.startswith(early)  # the commit's audio begins with it
    start_ms = turn.audio_end_ms - len(turn.utterance.audio) // 48  # input time
    early_end_ms = start_ms + len(early) // 48
    assert end_ms + 200 <= early_end_ms <= end_ms + EARLY_TAIL_MS + 64  # the sound's end, and more


async def test_a_window_shorter_than_the_tail_transcribes_at_the_commit() -> None:
    pcm, _, _ = question()
    ((early, turn),) = await early_audio(pcm, 160)
    assert early == b"" and turn.utterance.early is None


@pytest.mark.slow
async def test_a_soft_ending_is_not_clipped() -> None:
    ear = LocalWhisperSTT()
    found = await early_audio(jfk_pcm() + silence(1.0), 500)
    early, _ = found[0]  # "And so my fellow Americans," then a pause
    wav = wav_header(24_000, len(early)) + early
    text = (await ear.transcribe(wav, TranscriptionOptions("en"))).text
    assert "americans" in text.lower(), text
