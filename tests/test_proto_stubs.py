"""The committed gRPC stubs are what `make proto` generates from proto/."""

from pathlib import Path

from voice_contract.protogen import ROOT, generate


def test_committed_stubs_are_current(tmp_path: Path) -> None:
    generate(tmp_path)
    generated = sorted(tmp_path.rglob("*.py*"))
    assert generated, "protoc produced nothing"
    for path in generated:
        committed = ROOT / path.relative_to(tmp_path)
        assert committed.exists(), f"{committed} is missing: run `make proto`"
        assert committed.read_text() == path.read_text(), f"{committed} is stale: run `make proto`"
