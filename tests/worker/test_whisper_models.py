"""Whisper models by name (stt.whisper_models): a split model's parts joined in order and
checked against the recorded SHA-256; a model that is not installed is named with the
command that installs it; Whisper base, when installed, transcribes jfk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from harness.processes import DATA, JFK_TRANSCRIPT, word_error_rate
from voice_worker.lifecycle import Closeable
from voice_worker.stt import whisper_models
from voice_worker.stt.base import DescribesModel, TranscriptionOptions
from voice_worker.stt.registry import build_stt
from voice_worker.stt.settings import STTSettings
from voice_worker.stt.whisper_models import (
    BASE,
    ModelNotInstalled,
    SplitModel,
    join_parts,
    model_path,
    parts_of,
)


def _parts(tmp_path: Path) -> tuple[list[Path], bytes]:
    """Three parts in two folders, named so that sorting by text would misorder them."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    chunks = [b"first-" * 1000, b"second-" * 700, b"tenth"]
    (one / "model.bin.part1").write_bytes(chunks[0])
    (two / "model.bin.part2").write_bytes(chunks[1])
    (two / "model.bin.part10").write_bytes(chunks[2])
    return parts_of([one, two]), b"".join(chunks)


def test_parts_are_joined_in_order_and_checked(tmp_path: Path) -> None:
    parts, whole = _parts(tmp_path)
    assert [p.name for p in parts] == ["model.bin.part1", "model.bin.part2", "model.bin.part10"]
    target = tmp_path / "model.bin"
    join_parts(parts, target, hashlib.sha256(whole).hexdigest(), len(whole))
    assert target.read_bytes() == whole
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["model.bin"]


def test_a_join_that_does_not_match_the_checksum_leaves_nothing(tmp_path: Path) -> None:
    parts, whole = _parts(tmp_path)
    target = tmp_path / "model.bin"
    with pytest.raises(ValueError, match="SHA-256") as caught:
        join_parts(parts, target, hashlib.sha256(b"other").hexdigest(), len(whole))
    assert str(len(whole)) in str(caught.value)
    assert list(tmp_path.glob("model.bin*")) == []
    with pytest.raises(ValueError, match=r"no model\.bin\.part"):
        join_parts([], target, BASE.sha256, BASE.size)


def test_a_split_model_not_installed_names_the_make_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = SplitModel("base", ("no_such_package_voice_engine",), BASE.sha256, 1, BASE.install)
    monkeypatch.setitem(whisper_models.SPLIT, "base", missing)
    with pytest.raises(ModelNotInstalled, match="make install-whisper-base"):
        model_path("base")
    with pytest.raises(ValueError, match=r"tiny\.en, base"):
        model_path("large-v9")
    assert STTSettings().local.model == "tiny.en"


async def test_whisper_base_when_installed_transcribes_jfk() -> None:
    """VOICE_STT__LOCAL__MODEL=base, through the provider registry."""
    try:
        folder = model_path("base")
    except ModelNotInstalled:
        pytest.skip("whisper base is not installed (make install-whisper-base)")
    assert (folder / "model.bin").stat().st_size == BASE.size
    assert (folder / "config.json").is_file() and (folder / "vocabulary.txt").is_file()
    stt = build_stt(STTSettings.model_validate({"local": {"model": "base", "beam_size": 1}}))
    assert isinstance(stt, DescribesModel) and isinstance(stt, Closeable)
    try:
        assert stt.model_card().name == "base"
        heard = await stt.transcribe((DATA / "jfk.flac").read_bytes(), TranscriptionOptions())
    finally:
        await stt.close()
    assert heard.language == "en"  # multilingual: it found the language itself
    assert word_error_rate(JFK_TRANSCRIPT, heard.text) <= 0.1, heard.text
