"""harness/people.py: speech that behaves like people. Measured on the audio itself: the
lengths, where the pauses are (energy), the noise's level (SNR), determinism and the
disk cache, and that the engine's local Whisper hears the words of a clean utterance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from harness import people
from harness.people import VOICES, Spoken, Voice, corpus, recording, speak
from harness.processes import JFK_TRANSCRIPT, word_error_rate
from shared.audio.encoding import wav_header
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.stt.local import LocalWhisperSTT

PARTS = ("I want to plan a trip to the mountains and", "um", "what should I pack?")
PAUSES = (0.8, 0.5)
RATE = 24_000


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VOICE_PEOPLE_CACHE", str(tmp_path / "people"))
    return tmp_path / "people"


def samples(spoken: Spoken) -> npt.NDArray[np.float64]:
    return np.frombuffer(spoken.pcm, dtype="<i2").astype(np.float64) / 32768


def quiet_runs(x: npt.NDArray[np.float64], floor: float, min_s: float) -> list[tuple[float, float]]:
    """(start, end) in seconds of the runs of 5 ms windows whose RMS is below `floor`."""
    n = RATE // 200
    rms = np.sqrt(np.mean(np.square(x[: len(x) // n * n].reshape(-1, n)), axis=1))
    runs, start = [], None
    for i, quiet in enumerate([*(rms < floor).tolist(), False]):
        if quiet and start is None:
            start = i
        elif not quiet and start is not None:
            if (i - start) * n / RATE >= min_s:
                runs.append((start * n / RATE, i * n / RATE))
            start = None
    return runs


def test_the_pauses_are_where_they_were_inserted_and_nowhere_else() -> None:
    voice = VOICES[0]
    spoken = speak(PARTS, PAUSES, voice, lead_s=0.3, trailing_s=1.5)
    x = samples(spoken)
    assert spoken.rate == RATE and spoken.text == " ".join(PARTS)
    assert spoken.noise_rms == 0
    # lead, pause, pause, trailing: the only quiet runs over 0.25 s, each where it is said
    runs = quiet_runs(x, floor=1e-3, min_s=0.25)
    expected = [(0.0, 0.3), *spoken.pauses, (spoken.speech_end_s, spoken.duration_s)]
    assert len(runs) == len(expected), (runs, expected)
    for (a, b), (c, d) in zip(runs, expected, strict=True):
        assert abs(a - c) <= 0.01 and abs(b - d) <= 0.01, (runs, expected)
    for (start, end), pause in zip(spoken.pauses, PAUSES, strict=True):
        assert end - start == pytest.approx(pause, abs=1e-3)
    assert spoken.duration_s == pytest.approx(spoken.speech_end_s + 1.5, abs=1e-3)
    assert spoken.speech_start_s == pytest.approx(0.3, abs=1e-3)
    # the speech between them: a part's own silence was trimmed (loud at both edges)
    assert x[int(0.3 * RATE) : int(spoken.pauses[0][0] * RATE)].std() > 0.01


def test_noise_at_the_asked_snr_goes_on_through_the_pauses_and_after_the_end() -> None:
    voice = VOICES[1]
    clean = samples(speak(PARTS, PAUSES, voice))
    spoken = speak(PARTS, PAUSES, voice, snr_db=10.0, seed=3)
    noisy = samples(spoken)
    noise = noisy - clean
    assert len(noisy) == len(clean)
    lead, end = int(spoken.speech_start_s * RATE), int(spoken.speech_end_s * RATE)
    said = np.ones(len(clean), dtype=bool)
    said[:lead] = said[end:] = False
    for a, b in spoken.pauses:
        said[int(a * RATE) : int(b * RATE)] = False
    snr = 10 * np.log10(np.mean(np.square(clean[said])) / np.mean(np.square(noise)))
    assert snr == pytest.approx(10.0, abs=0.3)
    assert np.sqrt(np.mean(np.square(noise))) == pytest.approx(spoken.noise_rms, rel=0.02)
    # no quiet stretch anywhere: the noise fills the lead, the pauses and the tail
    assert quiet_runs(noisy, floor=spoken.noise_rms / 4, min_s=0.05) == []
    # pink: more power below 500 Hz than above 4 kHz
    power = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(len(noise), 1 / RATE)
    assert power[(freqs > 20) & (freqs < 500)].mean() > 10 * power[freqs > 4000].mean()


def test_same_inputs_same_audio_from_the_disk_cache(own_cache: Path) -> None:
    voice = Voice("test", "en-gb+m2", wpm=170, pitch=40)
    first = speak(PARTS[:2], PAUSES[:1], voice, snr_db=10.0, seed=5)
    stored = sorted(p.suffix for p in own_cache.iterdir())
    assert stored == [".json", ".pcm"]
    again = speak(PARTS[:2], PAUSES[:1], voice, snr_db=10.0, seed=5)  # from the cache
    assert again == first
    for path in own_cache.iterdir():
        path.unlink()
    assert speak(PARTS[:2], PAUSES[:1], voice, snr_db=10.0, seed=5) == first  # made again
    other = speak(PARTS[:2], PAUSES[:1], voice, snr_db=10.0, seed=6)
    assert other.pcm != first.pcm and other.speech_end_s == first.speech_end_s
    assert len(list(own_cache.iterdir())) == 4


def test_one_pause_between_each_two_parts() -> None:
    with pytest.raises(ValueError, match="one pause"):
        speak(PARTS, (0.5,), VOICES[0])


def test_the_corpus_has_thoughts_with_pauses_from_several_voices_clean_and_noisy() -> None:
    thoughts = corpus()
    voices = {t.voice for t in thoughts}
    assert len(voices - {"jfk"}) >= 2 and "joe" not in voices
    assert {t.snr_db for t in thoughts} == {None, 10.0}
    for thought in thoughts:
        pauses = thought.spoken.pauses
        assert 1 <= len(pauses) <= 4, thought.name
        assert all(0.39 <= b - a <= 1.21 for a, b in pauses), (thought.name, pauses)
        assert thought.spoken.speech_end_s < thought.spoken.duration_s
    assert len({t.spoken.pcm for t in thoughts}) == len(thoughts)
    assert corpus() == thoughts  # deterministic


def test_the_recording_keeps_its_own_four_pauses_and_end() -> None:
    spoken = recording()
    assert spoken.text == JFK_TRANSCRIPT
    assert len(spoken.pauses) == 4
    assert all(0.35 <= b - a <= 1.25 for a, b in spoken.pauses), spoken.pauses
    assert 10.0 <= spoken.speech_end_s <= 10.6
    assert spoken.duration_s == pytest.approx(11.0 + 1.5, abs=0.01)


@pytest.mark.slow
async def test_whisper_hears_the_words_of_a_clean_utterance() -> None:
    ear = LocalWhisperSTT()
    for voice in VOICES[:2]:
        spoken = speak(PARTS, PAUSES, voice, rate=16_000)
        wav = wav_header(spoken.rate, len(spoken.pcm)) + spoken.pcm
        heard = (await ear.transcribe(wav, TranscriptionOptions("en"))).text
        assert word_error_rate(spoken.text, heard) <= 0.35, (voice.name, heard)


def test_the_module_finds_the_pauses_on_the_energy_as_well() -> None:
    """people.silent_runs (what `recording` uses) is relative to the loudest window: a
    word's soft ending may count as silent, never a pause as speech."""
    spoken = speak(PARTS, PAUSES, VOICES[2])
    runs = people.silent_runs(spoken.samples(), spoken.rate, min_s=0.3)
    inner = [r for r in runs if r[0] > 0 and r[1] < spoken.duration_s - 0.02]
    assert len(inner) == len(spoken.pauses)
    for (a, b), (c, d) in zip(inner, spoken.pauses, strict=True):
        assert c - 0.1 <= a <= c + 0.01 and d - 0.01 <= b <= d + 0.1, (inner, spoken.pauses)
