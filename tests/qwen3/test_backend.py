"""The qwen3 backend on tiny random-weight checkpoints, loaded by the real library."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from model_server.backends import build_backends
from model_server.backends.base import SynthesisJob, TTSBackend
from model_server.backends.qwen3 import Qwen3Backend, Qwen3Options, from_spec
from model_server.backends.qwen3.voices import read_checkpoint
from model_server.batching import ModelRunner
from model_server.settings import ModelSpec, Settings
from tests.qwen3.conftest import FRAMES, RATE, SAMPLES_PER_FRAME, greedy

PRESETS = ["Vivian", "Serena", "Uncle_Fu", "Dylan", "Eric", "Ryan", "Aiden", "Ono_Anna", "Sohee"]
LANGUAGES = [
    "Chinese",
    "English",
    "Japanese",
    "Korean",
    "German",
    "French",
    "Russian",
    "Portuguese",
    "Spanish",
    "Italian",
    "Auto",
]


def backend(path: Path, **options: object) -> Qwen3Backend:
    return from_spec(
        ModelSpec(name="q", backend="qwen3", path=path, options=greedy(**options)), Settings()
    )


@pytest.fixture(scope="module")
def loaded(custom_voice: Path) -> Iterator[Qwen3Backend]:
    b = backend(custom_voice)
    b.load()
    yield b
    b.unload()


JOBS = [
    SynthesisJob("Hello there.", "Vivian", "English"),
    SynthesisJob("A second, rather longer sentence to speak.", "Ryan", "", instructions="Happy."),
    SynthesisJob("Guten Tag.", "Dylan", "de"),
    SynthesisJob("你好。", "Uncle_Fu", "zh-CN"),
]


def test_checkpoint_has_the_official_layout(custom_voice: Path) -> None:
    names = {p.relative_to(custom_voice).as_posix() for p in custom_voice.rglob("*")}
    for required in [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
        "merges.txt",
        "special_tokens_map.json",
        "speech_tokenizer/config.json",
        "speech_tokenizer/model.safetensors",
        "speech_tokenizer/preprocessor_config.json",
    ]:
        assert required in names
    # The library bug this works around: only the speaker encoder's own fields remain.
    config = json.loads((custom_voice / "config.json").read_text())
    assert "model_type" not in config["speaker_encoder_config"]
    assert sum(p.stat().st_size for p in custom_voice.rglob("*.safetensors")) < 25 * 2**20


def test_registry_builds_it_from_settings(custom_voice: Path) -> None:
    settings = Settings(models=[ModelSpec(name="q", backend="qwen3", path=custom_voice)])
    kind, built = build_backends(settings)["q"]
    assert kind == "qwen3"
    assert isinstance(built, Qwen3Backend)
    assert isinstance(built, TTSBackend)


def test_voices_and_languages_come_from_the_config(custom_voice: Path) -> None:
    b = backend(custom_voice)
    voices = b.voices()
    assert [v.name for v in voices] == PRESETS  # model-card order: Vivian is the default
    assert all(v.gender in ("female", "male") and v.description for v in voices)
    for language in LANGUAGES:
        assert language in voices[0].languages
    assert "en" in voices[0].languages  # ISO codes too
    assert b.sample_rate == RATE
    assert b.accepts_instructions  # the tiny checkpoint says 1b7
    assert b.max_batch_size == 32
    assert b.max_concurrency == 1
    assert b.memory_bytes() == 0  # nothing loaded yet


def test_instructions_only_on_the_bigger_custom_voice_model(
    custom_voice: Path, tmp_path: Path
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    for item in custom_voice.iterdir():
        (small / item.name).symlink_to(item)
    config = json.loads((custom_voice / "config.json").read_text())
    (small / "config.json").unlink()
    (small / "config.json").write_text(json.dumps({**config, "tts_model_size": "0b6"}))
    assert not read_checkpoint(small).accepts_instructions


def test_unknown_options_are_refused(custom_voice: Path) -> None:
    with pytest.raises(ValueError, match="unknown qwen3 options"):
        Qwen3Options.parse({"devise": "cuda"})
    with pytest.raises(ValueError, match="unknown generate options"):
        Qwen3Options.parse({"generate": {"temprature": 0.5}})


def test_a_batch_is_one_library_call_with_24khz_audio_of_the_fixed_length(
    loaded: Qwen3Backend,
) -> None:
    calls = loaded.generate_calls
    audio = loaded.synthesize_batch(JOBS)
    assert loaded.generate_calls == calls + 1
    assert len(audio) == len(JOBS)
    for clip in audio:
        assert clip.dtype == np.float32
        assert clip.shape == (FRAMES * SAMPLES_PER_FRAME,)
        assert np.all(np.abs(clip) <= 1.0)
        assert float(np.sqrt(np.mean(clip**2))) > 0.01  # random codebooks: not silence
    assert not np.allclose(audio[0], audio[1])  # different text, voice: different audio


def test_batched_equals_one_by_one(loaded: Qwen3Backend) -> None:
    # Greedy decoding: sampling draws from one random stream for the whole batch, so
    # only greedy output can be the same whatever else shares the batch. Padding
    # changes the float summation order a little, hence the tolerance.
    batched = loaded.synthesize_batch(JOBS)
    for job, clip in zip(JOBS, batched, strict=True):
        alone = loaded.synthesize_batch([job])[0]
        np.testing.assert_allclose(clip, alone, atol=1e-4)


def test_seeded_sampling_is_reproducible(custom_voice: Path) -> None:
    b = from_spec(
        ModelSpec(
            name="q", backend="qwen3", path=custom_voice, options={"seed": 7, "fixed_frames": 4}
        ),
        Settings(),
    )
    b.load()
    try:
        first = b.synthesize_batch(JOBS[:2])
        again = b.synthesize_batch(JOBS[:2])
    finally:
        b.unload()
    for a, c in zip(first, again, strict=True):
        assert a.shape == (4 * SAMPLES_PER_FRAME,)
        np.testing.assert_array_equal(a, c)


def test_stream_decodes_windows_while_generating(loaded: Qwen3Backend) -> None:
    # 8 frames: a first block after 4 (stream_first_frames), the rest when generation
    # ends; together the same audio as the unary call (the decoder is causal).
    blocks = list(loaded.stream(JOBS[1]))
    assert [len(b) for b in blocks] == [4 * SAMPLES_PER_FRAME, 4 * SAMPLES_PER_FRAME]
    whole = loaded.synthesize_batch([JOBS[1]])[0]
    np.testing.assert_allclose(np.concatenate(blocks), whole, atol=1e-4)


def test_concurrent_streams_run_as_one_generate_call(loaded: Qwen3Backend) -> None:
    calls = loaded.generate_calls
    events = list(loaded.stream_batch(JOBS))
    assert loaded.generate_calls == calls + 1
    whole = loaded.synthesize_batch(JOBS)
    for index, clip in enumerate(whole):
        mine = [block for i, block in events if i == index]
        assert mine[-1] is None  # the end of this stream
        blocks = [b for b in mine if b is not None]
        assert [len(b) for b in blocks] == [4 * SAMPLES_PER_FRAME] * 2
        np.testing.assert_allclose(np.concatenate(blocks), clip, atol=1e-4)
    # the first blocks of every row come before any row's second block
    first_half = [i for i, b in events[: len(JOBS)]]
    assert sorted(first_half) == list(range(len(JOBS)))


def test_stream_in_one_block_when_windows_are_off(custom_voice: Path) -> None:
    b = backend(custom_voice, stream_frames=0)
    b.load()
    try:
        blocks = list(b.stream(JOBS[0]))
    finally:
        b.unload()
    assert [len(x) for x in blocks] == [FRAMES * SAMPLES_PER_FRAME]


def test_cancelled_stream_stops_generating(custom_voice: Path) -> None:
    b = backend(custom_voice, fixed_frames=200, stream_first_frames=2, stream_frames=2)
    b.load()
    try:
        job = SynthesisJob("Hello there.", "Vivian", "English")
        stream = b.stream(job)
        first = next(stream)
        job.cancelled.set()
        rest = list(stream)  # ends at the next frame instead of running 200
        assert len(first) == 2 * SAMPLES_PER_FRAME
        assert sum(len(x) for x in rest) <= 2 * SAMPLES_PER_FRAME
        # the model is free again: a batch runs normally
        assert len(b.synthesize_batch([JOBS[0]])[0]) == 200 * SAMPLES_PER_FRAME
    finally:
        b.unload()


async def test_concurrent_requests_share_one_generate_call(loaded: Qwen3Backend) -> None:
    runner = ModelRunner("q", loaded, window_s=0.05, max_batch=16)
    calls = loaded.generate_calls
    try:
        results = await asyncio.gather(*(runner.synthesize(job) for job in JOBS * 2))
    finally:
        await runner.close()
    assert runner.batch_calls == 1
    assert loaded.generate_calls == calls + 1
    assert [len(r) for r in results] == [FRAMES * SAMPLES_PER_FRAME] * 8


def test_voice_design_batches_different_descriptions(voice_design: Path) -> None:
    b = backend(voice_design)
    assert [v.name for v in b.voices()] == ["designed"]
    assert b.accepts_instructions
    b.load()
    try:
        audio = b.synthesize_batch(
            [
                SynthesisJob("Hello.", "designed", "English", instructions="A calm old man."),
                SynthesisJob("Hi!", "designed", "", instructions="An excited child."),
                SynthesisJob("Hey.", "designed", "fr"),
            ]
        )
    finally:
        b.unload()
    assert b.generate_calls == 1
    assert [a.shape for a in audio] == [(FRAMES * SAMPLES_PER_FRAME,)] * 3


def test_base_model_clones_registered_voices(base_model: Path, tmp_path: Path) -> None:
    import soundfile

    rng = np.random.default_rng(0)
    clip = tmp_path / "alice.wav"
    soundfile.write(clip, (0.1 * rng.standard_normal(16_000)).astype(np.float32), 16_000)
    options = {"voices": {"alice": {"audio": str(clip), "text": "This is Alice speaking."}}}
    b = backend(base_model, **options)
    assert [v.name for v in b.voices()] == ["alice"]
    assert not b.accepts_instructions
    b.load()
    try:
        # registered while loaded, x-vector only (no transcript)
        info = b.register_voice("bob", (0.1 * rng.standard_normal(24_000)).astype("f4"), 24_000)
        assert info.name == "bob"
        assert [v.name for v in b.voices()] == ["alice", "bob"]
        audio = b.synthesize_batch(
            [SynthesisJob("Hello.", "alice", "English"), SynthesisJob("Hi.", "bob", "")]
        )
    finally:
        b.unload()
    assert b.generate_calls == 1
    # In-context (with transcript) output has the reference part cut off, so its length
    # is about FRAMES frames; x-vector output is exactly FRAMES frames.
    assert audio[1].shape == (FRAMES * SAMPLES_PER_FRAME,)
    assert abs(len(audio[0]) - FRAMES * SAMPLES_PER_FRAME) <= SAMPLES_PER_FRAME
    assert float(np.sqrt(np.mean(audio[0] ** 2))) > 0.01


def test_base_model_may_start_without_voices(base_model: Path) -> None:
    b = from_spec(ModelSpec(name="q", backend="qwen3", path=base_model), Settings())
    assert b.voices() == []
    assert b.clones_voices


def test_register_voice_only_on_base(loaded: Qwen3Backend) -> None:
    assert not loaded.clones_voices
    with pytest.raises(ValueError, match="only a Base checkpoint"):
        loaded.register_voice("x", np.ones(100, np.float32), 24_000)
