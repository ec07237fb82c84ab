"""`GET /v1/audio/voices` and `GET /v1/models` (OpenAI's list shape)."""

from __future__ import annotations

import time

from fastapi import APIRouter

from voice_worker.deps import ServicesDep
from voice_worker.speech.protocol import OPENAI_TTS_MODELS, OPENAI_VOICES

router = APIRouter(tags=["catalog"])
_CREATED = int(time.time())


@router.get("/v1/audio/voices")
async def list_voices(services: ServicesDep) -> dict[str, object]:
    tts = services.tts
    lister = getattr(tts, "voices", None)
    voices = await lister() if lister is not None else []
    aliases = {} if tts.name == "openai" else services.speech.voice_map
    return {
        "object": "list",
        "provider": tts.name,
        "data": voices,
        # OpenAI's names are accepted too: mapped by VOICE_TTS__VOICE_MAP, else the default
        "openai_voices": {name: aliases.get(name, "") for name in sorted(OPENAI_VOICES)},
    }


def _model(model_id: str, owner: str, **extra: object) -> dict[str, object]:
    return {"id": model_id, "object": "model", "created": _CREATED, "owned_by": owner, **extra}


@router.get("/v1/models")
async def list_models(services: ServicesDep) -> dict[str, object]:
    data = [_model("whisper-1", "voice-engine", capability="transcription")]
    data += [_model(m, "voice-engine", capability="speech") for m in sorted(OPENAI_TTS_MODELS)]
    lister = getattr(services.tts, "models", None)
    for info in await lister() if lister is not None else []:
        model_id = str(info.pop("id"))
        data.append(_model(model_id, services.tts.name, capability="speech", **info))
    return {"object": "list", "data": data}
