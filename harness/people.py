"""Speech that behaves like people, for tests and the benchmark: a thought said in parts
with the pauses people make in the middle (after "and", "so", an "um", mid-clause),
by voices that are not the engine's own reply voice (espeak-ng from Debian), clean or
in noise that goes on through the pauses and after the end, as a microphone hears it;
and a real person's recording (tests/data/jfk.flac, four natural pauses).

Deterministic: the same inputs give the same samples (espeak-ng is deterministic; the
noise comes from a seeded generator). Each result is cached on disk, keyed by a hash of
its inputs and the espeak-ng version, under `~/.cache/voice-engine/people/` (or
`$VOICE_PEOPLE_CACHE`), so tests and benchmarks do not synthesise it again.

`speak(parts, pauses_s, voice)` says one thought; `corpus()` is the benchmark's set."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from harness.processes import DATA, JFK_TRANSCRIPT
from shared.audio.decoding import decode

Samples = npt.NDArray[np.float32]
CACHE_VERSION = 1  # bump when the way a result is made changes
WINDOW_S = 0.01  # energy is measured in 10 ms windows
TRIM_DB = -45.0  # a part's edges: below this, relative to its peak, is silence


@dataclass(frozen=True)
class Voice:
    """How a voice is made: an espeak-ng voice (`language+variant`), its speed in
    words per minute and its pitch (0-99, espeak-ng's scale; 50 is its default)."""

    name: str
    espeak: str
    wpm: int = 160
    pitch: int = 50


#: none of them is the engine's reply voice (Piper's `joe`)
VOICES: tuple[Voice, ...] = (
    Voice("us-male", "en-us+m3", wpm=165, pitch=45),
    Voice("gb-female", "en-gb+f3", wpm=150, pitch=60),
    Voice("us-female", "en-us+f2", wpm=175, pitch=55),
)


@dataclass(frozen=True)
class Spoken:
    pcm: bytes  # pcm16 mono at `rate`
    rate: int
    text: str  # the whole thought, as said
    speech_end_s: float  # where the last word ends (before the trailing noise/silence)
    pauses: tuple[tuple[float, float], ...]  # (start_s, end_s) of the mid-sentence pauses
    speech_start_s: float = 0.0  # where the first word starts (after the leading silence)
    noise_rms: float = 0.0  # of the noise added (0: clean); a microphone goes on with it

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.rate

    def samples(self) -> Samples:
        out: Samples = np.frombuffer(self.pcm, dtype="<i2").astype(np.float32) / np.float32(32768)
        return out


@dataclass(frozen=True)
class Thought:
    """One entry of the corpus: who said what, in which noise."""

    name: str  # e.g. "trip/us-male/10dB"
    voice: str  # a Voice's name, or "jfk" for the recording
    snr_db: float | None  # None: clean
    spoken: Spoken


#: thoughts in parts, cut where people pause (after "and", "so", a filler, mid-clause)
THOUGHTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("trip", ("I want to plan a trip to the mountains and", "I need to know what to pack.")),
    ("rain", ("So what I am wondering is", "um", "whether it will rain tomorrow.")),
    ("egg", ("Can you tell me how long to", "boil an egg so that", "the yolk stays soft?")),
    (
        "sister",
        (
            "My sister is coming to visit next week and",
            "she likes Italian food so",
            "um",
            "what should I cook for her?",
        ),
    ),
    ("moon", ("I was reading about the moon and", "I wonder how far away it is.")),
    ("dog", ("What is a good name for a dog that is", "uh", "small and very loud?")),
    ("capital", ("Remind me what the capital of", "Australia is.")),
    ("run", ("I think I will go for a run so", "is it cold outside right now?")),
    ("book", ("Could you recommend a book about", "the history of", "the ocean?")),
)
PAUSE_RANGE_S = (0.4, 1.2)


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "voice-engine" / "people"
    return Path(os.environ.get("VOICE_PEOPLE_CACHE", default))


@functools.cache
def espeak_version() -> str:
    done = subprocess.run(["espeak-ng", "--version"], capture_output=True, check=True)
    return done.stdout.decode(errors="replace").strip()


def speak(
    parts: Sequence[str],
    pauses_s: Sequence[float],
    voice: Voice,
    *,
    snr_db: float | None = None,
    lead_s: float = 0.3,
    trailing_s: float = 1.5,
    rate: int = 24000,
    seed: int = 0,
) -> Spoken:
    """`parts` said by `voice` with `pauses_s[i]` of silence (or noise) between part i
    and i + 1, after `lead_s` and before `trailing_s`; with `snr_db`, pink noise over the
    whole of it, `snr_db` below the speech's power (measured where it speaks)."""
    if not parts or len(pauses_s) != len(parts) - 1:
        raise ValueError("one pause between each two parts")
    key = {
        "kind": "speak",
        "version": CACHE_VERSION,
        "espeak": espeak_version(),
        "parts": list(parts),
        "pauses_s": [float(p) for p in pauses_s],
        "voice": asdict(voice),
        "snr_db": snr_db,
        "lead_s": lead_s,
        "trailing_s": trailing_s,
        "rate": rate,
        "seed": seed,
    }
    cached = _load(key)
    if cached is not None:
        return cached
    said = [_trim(_espeak(part, voice, rate)) for part in parts]
    chunks: list[Samples] = [_zeros(lead_s, rate)]
    pauses: list[tuple[float, float]] = []
    at = _n(lead_s, rate)
    for i, part in enumerate(said):
        chunks.append(part)
        at += len(part)
        if i < len(pauses_s):
            gap = _zeros(pauses_s[i], rate)
            pauses.append((at / rate, (at + len(gap)) / rate))
            chunks.append(gap)
            at += len(gap)
    speech_end = at / rate
    chunks.append(_zeros(trailing_s, rate))
    clean = np.concatenate(chunks)
    speaking = np.concatenate(said)
    noise = _noise_for(speaking, len(clean), snr_db, seed)
    text, start = " ".join(parts), _n(lead_s, rate) / rate
    spoken = Spoken(
        _pcm16(clean + noise), rate, text, speech_end, tuple(pauses), start, _rms(noise)
    )
    _store(key, spoken)
    return spoken


def recording(
    *, snr_db: float | None = None, trailing_s: float = 1.5, rate: int = 24000, seed: int = 0
) -> Spoken:
    """tests/data/jfk.flac (a real person, 11 s, natural pauses) with `trailing_s` added.
    Measured on its energy: the pauses are its silent runs of 0.3 s or more at 15 dB below
    its loudest 10 ms (four, 0.4 to 1.2 s); the end of speech is where its last run at 20
    dB below starts (it reaches the file's last 0.3 s: the room is heard after the last
    word)."""
    key = {
        "kind": "recording",
        "version": CACHE_VERSION,
        "file": "jfk.flac",
        "snr_db": snr_db,
        "trailing_s": trailing_s,
        "rate": rate,
        "seed": seed,
    }
    cached = _load(key)
    if cached is not None:
        return cached
    audio = decode((DATA / "jfk.flac").read_bytes(), rate).samples.astype(np.float32)
    duration = len(audio) / rate
    runs = silent_runs(audio, rate, min_s=0.3, threshold_db=-15.0)
    inner = [r for r in runs if r[0] > 0 and r[1] < duration - WINDOW_S * 2]
    pauses = tuple(r for r in inner if r[1] - r[0] < 1.5)
    start = float(runs[0][1]) if runs and runs[0][0] == 0 else 0.0
    tail = silent_runs(audio, rate, min_s=0.3, threshold_db=-20.0)
    end = tail[-1][0] if tail and tail[-1][1] >= duration - 0.3 else duration
    pauses = tuple(p for p in pauses if p[1] <= end)
    clean = np.concatenate([audio, _zeros(trailing_s, rate)])
    speaking = audio[_n(start, rate) : _n(end, rate)]
    noise = _noise_for(speaking, len(clean), snr_db, seed)
    spoken = Spoken(_pcm16(clean + noise), rate, JFK_TRANSCRIPT, end, pauses, start, _rms(noise))
    _store(key, spoken)
    return spoken


def corpus(
    *,
    voices: Sequence[Voice] = VOICES,
    snrs: Sequence[float | None] = (None, 10.0),
    thoughts: Sequence[tuple[str, Sequence[str]]] = THOUGHTS,
    with_recording: bool = True,
    rate: int = 24000,
    seed: int = 0,
) -> list[Thought]:
    """The benchmark's utterances: each thought said by one voice (in turn), with 1-3
    pauses of 0.4-1.2 s drawn from `seed`, in each of `snrs` (None: clean), and the jfk
    recording; ordered by noise, then thought."""
    rng = random.Random(seed)
    plans = []
    for n, (name, parts) in enumerate(thoughts):
        pauses = [round(rng.uniform(*PAUSE_RANGE_S), 2) for _ in parts[1:]]
        plans.append((name, tuple(parts), pauses, voices[n % len(voices)]))
    out = []
    for snr in snrs:
        label = "clean" if snr is None else f"{snr:g}dB"
        for n, (name, parts, pauses, voice) in enumerate(plans):
            spoken = speak(parts, pauses, voice, snr_db=snr, rate=rate, seed=seed + n)
            out.append(Thought(f"{name}/{voice.name}/{label}", voice.name, snr, spoken))
        if with_recording:
            spoken = recording(snr_db=snr, rate=rate, seed=seed + len(plans))
            out.append(Thought(f"jfk/jfk/{label}", "jfk", snr, spoken))
    return out


# measuring (also what the tests check the results with)


def window_rms(samples: Samples, rate: int) -> Samples:
    """The root mean square of each 10 ms window."""
    n = _n(WINDOW_S, rate)
    windows = samples[: len(samples) // n * n].reshape(-1, n)
    rms: Samples = np.sqrt(np.mean(np.square(windows, dtype=np.float64), axis=1)).astype(np.float32)
    return rms


def silent_runs(
    samples: Samples, rate: int, *, min_s: float, threshold_db: float = -40.0
) -> list[tuple[float, float]]:
    """(start_s, end_s) of each run of 10 ms windows at least `threshold_db` below the
    loudest window and lasting `min_s` or more."""
    active = _active(samples, rate, threshold_db)
    runs, start = [], None
    for i, loud in enumerate([*active.tolist(), True]):
        if not loud and start is None:
            start = i
        elif loud and start is not None:
            if (i - start) * WINDOW_S >= min_s - 1e-9:
                runs.append((start * WINDOW_S, i * WINDOW_S))
            start = None
    return runs


def _active(samples: Samples, rate: int, threshold_db: float) -> npt.NDArray[np.bool_]:
    rms = window_rms(samples, rate)
    active: npt.NDArray[np.bool_] = rms >= rms.max() * 10 ** (threshold_db / 20)
    return active


# making


def _espeak(text: str, voice: Voice, rate: int) -> Samples:
    command = ["espeak-ng", "-v", voice.espeak, "-s", str(voice.wpm), "-p", str(voice.pitch)]
    done = subprocess.run([*command, "--stdout", text], capture_output=True, check=True)
    return decode(done.stdout, rate).samples.astype(np.float32)


def _trim(samples: Samples) -> Samples:
    """The part without its leading and trailing silence (so the pauses are exactly the
    ones inserted), cut at the first and last sample above TRIM_DB of its peak."""
    loud = np.flatnonzero(np.abs(samples) >= np.abs(samples).max() * 10 ** (TRIM_DB / 20))
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples


def _noise_for(speaking: Samples, length: int, snr_db: float | None, seed: int) -> Samples:
    """Pink noise `snr_db` below the power of `speaking` (zeros when None)."""
    if snr_db is None:
        return np.zeros(length, dtype=np.float32)
    power = float(np.mean(np.square(speaking, dtype=np.float64)))
    noise = pink_noise(length, seed)
    scaled: Samples = (noise * np.sqrt(power / 10 ** (snr_db / 10))).astype(np.float32)
    return scaled


def pink_noise(length: int, seed: int) -> Samples:
    """1/f noise of unit power: white noise from `seed`, shaped in the frequency domain."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(freqs), n=length)
    noise -= noise.mean()
    unit: Samples = (noise / np.sqrt(np.mean(np.square(noise)))).astype(np.float32)
    return unit


def noise(rms: float, length: int, seed: int) -> bytes:
    """`length` samples of pink noise at `rms`, as pcm16: what a microphone goes on
    hearing after a noisy Spoken ends (its `noise_rms`)."""
    return _pcm16(pink_noise(length, seed) * rms)


def _rms(samples: Samples) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0


def _n(seconds: float, rate: int) -> int:
    return round(seconds * rate)


def _zeros(seconds: float, rate: int) -> Samples:
    return np.zeros(_n(seconds, rate), dtype=np.float32)


def _pcm16(samples: Samples) -> bytes:
    return bytes((np.clip(samples, -1, 1) * 32767).round().astype("<i2").tobytes())


# the cache: <hash>.pcm (the samples) beside <hash>.json (the rest)


def _digest(key: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def _load(key: dict[str, object]) -> Spoken | None:
    base = cache_dir() / _digest(key)
    try:
        meta_text = base.with_suffix(".json").read_text()
        pcm = base.with_suffix(".pcm").read_bytes()
    except OSError:
        return None
    meta = json.loads(meta_text)
    if len(pcm) != meta["bytes"]:
        return None
    pauses = tuple((float(a), float(b)) for a, b in meta["pauses"])
    return Spoken(
        pcm,
        meta["rate"],
        meta["text"],
        meta["speech_end_s"],
        pauses,
        meta["speech_start_s"],
        meta["noise_rms"],
    )


def _store(key: dict[str, object], spoken: Spoken) -> None:
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    base = directory / _digest(key)
    meta = {
        "key": key,
        "bytes": len(spoken.pcm),
        "rate": spoken.rate,
        "text": spoken.text,
        "speech_start_s": spoken.speech_start_s,
        "noise_rms": spoken.noise_rms,
        "speech_end_s": spoken.speech_end_s,
        "pauses": [list(p) for p in spoken.pauses],
    }
    _atomic_write(base.with_suffix(".pcm"), spoken.pcm)  # the samples first: meta says done
    _atomic_write(base.with_suffix(".json"), json.dumps(meta).encode())


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(tmp, path)
