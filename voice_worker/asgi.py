"""`uvicorn --factory voice_worker.asgi:app`: the app with settings from the
environment (what multi-process serving imports in each child)."""

from __future__ import annotations

from fastapi import FastAPI

from shared.logs import configure_logging
from voice_worker.app import create_app
from voice_worker.settings import Settings


def app() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log.level, settings.log.json_format)
    return create_app(settings)
