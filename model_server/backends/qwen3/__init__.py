"""The `qwen3` backend: Qwen3-TTS checkpoints (CustomVoice, VoiceDesign, Base) through
the official `qwen-tts` package, installed with the `qwen` extra.

Configured through `VOICE_MODELS`, e.g.
`[{"name": "qwen3-0.6b", "backend": "qwen3", "path": "/models/Qwen3-TTS-12Hz-0.6B-CustomVoice",
"options": {"device": "cuda:0"}}]`; options are `Qwen3Options` fields plus, for a Base
checkpoint, `voices`: `{"name": {"audio": "ref.wav", "text": "what the clip says"}}`
(more through the RegisterVoice RPC).

- voices.py: what a checkpoint speaks (config.json, no torch)
- backend.py: loading, memory accounting, batched generation
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_server.backends.qwen3.backend import Qwen3Backend, Qwen3Options, ReferenceVoice

if TYPE_CHECKING:
    from model_server.settings import ModelSpec, Settings

__all__ = ["Qwen3Backend", "Qwen3Options", "ReferenceVoice", "from_spec", "reference_voices"]


def reference_voices(spec: dict[str, Any], base: Path | None = None) -> list[ReferenceVoice]:
    """`{"name": {"audio": path, "text": str, "languages": [...]}}` -> reference voices
    (audio read with soundfile, mixed down to mono; relative paths from `base`)."""
    import soundfile

    voices = []
    for name, entry in spec.items():
        audio_path = Path(entry["audio"])
        if base is not None and not audio_path.is_absolute():
            audio_path = base / audio_path
        audio, rate = soundfile.read(audio_path, dtype="float32", always_2d=True)
        voices.append(
            ReferenceVoice(
                name=str(name),
                audio=audio.mean(axis=1),
                sample_rate=int(rate),
                text=str(entry.get("text", "")),
                languages=tuple(entry.get("languages", ())),
            )
        )
    return voices


def from_spec(spec: ModelSpec, settings: Settings) -> Qwen3Backend:
    if spec.path is None:
        raise ValueError(f"qwen3 model {spec.name!r} needs a path to a checkpoint directory")
    options = Qwen3Options.parse(spec.options)
    return Qwen3Backend(
        spec.path, options, reference_voices(spec.options.get("voices") or {}, spec.path)
    )
