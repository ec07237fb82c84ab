"""`GET /`: the browser console; `GET /console/{name}`: its scripts (the page, its WebRTC
call, its microphone worklet) and its style sheet (static files in this package, nothing
from a CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from voice_worker.errors import NotFound

router = APIRouter(tags=["console"])
STATIC = Path(__file__).resolve().parent / "static"
FILES = {
    "app.js": "text/javascript",
    "webrtc.js": "text/javascript",
    "mic-worklet.js": "text/javascript",
    "style.css": "text/css",
}


@router.get("/", include_in_schema=False)
async def console() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/console/{name}", include_in_schema=False)
async def console_file(name: str) -> FileResponse:
    media_type = FILES.get(name)
    if media_type is None:
        raise NotFound(f"no console file {name!r}", param="name")
    return FileResponse(STATIC / name, media_type=media_type, headers={"cache-control": "no-cache"})
