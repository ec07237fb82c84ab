"""`GET /v1/audio/voices` and `GET /v1/models` (OpenAI's list shape) over `Catalog`."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request

from voice_worker.catalog.catalog import Catalog
from voice_worker.catalog.openai_names import OPENAI_TTS_MODELS, OPENAI_VOICES
from voice_worker.http.responses import errors


def catalog(request: Request) -> Catalog:
    return cast(Catalog, request.app.state.catalog)


CatalogDep = Annotated[Catalog, Depends(catalog)]
router = APIRouter(tags=["catalog"])
_CREATED = int(time.time())


@router.get("/v1/audio/voices", responses=errors(502, 503, 504))
async def list_voices(catalog: CatalogDep) -> dict[str, object]:
    voices = await catalog.voices()
    aliases = catalog.voice_aliases
    return {
        "object": "list",
        "provider": catalog.provider,
        "data": [dataclasses.asdict(v) for v in voices],
        # OpenAI's names are accepted too: mapped by VOICE_TTS__VOICE_MAP, else the default
        "openai_voices": {name: aliases.get(name, "") for name in sorted(OPENAI_VOICES)},
    }


def _model(model_id: str, owner: str, **extra: object) -> dict[str, object]:
    return {"id": model_id, "object": "model", "created": _CREATED, "owned_by": owner, **extra}


@router.get("/v1/models", responses=errors(502, 503, 504))
async def list_models(catalog: CatalogDep) -> dict[str, object]:
    data = [_model("whisper-1", "voice-engine", capability="transcription")]
    data += [_model(m, "voice-engine", capability="speech") for m in sorted(OPENAI_TTS_MODELS)]
    for m in await catalog.models():
        data.append(
            _model(
                m.name,
                catalog.provider,
                capability="speech",
                backend=m.backend,
                default=m.is_default,
                sample_rate=m.sample_rate,
                state=m.state,
            )
        )
    return {"object": "list", "data": data}
