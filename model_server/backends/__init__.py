"""Backends by name, and building the configured set of models from Settings.

A backend module is imported only when a model uses it, so the default install (Piper)
never imports torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from model_server.backends.base import SynthesisJob, TTSBackend, VoiceInfo

if TYPE_CHECKING:
    from model_server.settings import ModelSpec, Settings

__all__ = ["BACKENDS", "SynthesisJob", "TTSBackend", "VoiceInfo", "build_backends"]

BackendFactory = Callable[["ModelSpec", "Settings"], TTSBackend]

#: backend name -> "module:factory" (a function taking the ModelSpec and the Settings)
BACKENDS: dict[str, str] = {
    "piper": "model_server.backends.piper:from_spec",
    "qwen3": "model_server.backends.qwen3:from_spec",
}


def _factory(backend: str) -> BackendFactory:
    try:
        target = BACKENDS[backend]
    except KeyError:
        raise ValueError(
            f"unknown backend {backend!r}; available backends: {', '.join(BACKENDS)}"
        ) from None
    module, _, attr = target.partition(":")
    factory: BackendFactory = getattr(importlib.import_module(module), attr)
    return factory


def build_backends(settings: Settings) -> dict[str, tuple[str, TTSBackend]]:
    """Every configured model by name: the bundled Piper voice, each voice in
    `piper.voices_dir`, then `settings.models`."""
    from model_server.backends.piper import default_specs

    specs = [*default_specs(settings), *settings.models]
    models: dict[str, tuple[str, TTSBackend]] = {}
    for spec in specs:
        if spec.name in models:
            raise ValueError(f"model {spec.name!r} is configured twice")
        models[spec.name] = (spec.backend, _factory(spec.backend)(spec, settings))
    return models
