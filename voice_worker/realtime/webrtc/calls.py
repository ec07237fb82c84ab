"""The worker's WebRTC calls (`RealtimeServices.calls`, by id): `start` answers an
offer with a new call, `hang_up` ends one (DELETE), `end_all` every one (shutdown). A
call leaves the registry on its own when it ends (realtime/webrtc/call.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pydantic import BaseModel

from voice_worker.auth.principal import Principal
from voice_worker.errors import Busy, Conflict, NotFound
from voice_worker.realtime.connection import Opening
from voice_worker.realtime.services import RealtimeServices
from voice_worker.realtime.webrtc.call import Call


async def start(
    services: RealtimeServices, opening: Opening, offer: str, initial: Sequence[BaseModel] = ()
) -> tuple[str, str]:
    """A new call answering `offer`: its id and the SDP answer; `initial`, the session's
    first settings (session.update events), applied after session.created."""
    call = Call(services, opening, lambda call_id: services.calls.pop(call_id, None))
    services.calls[call.id] = call
    try:
        answer = await call.answer(offer, initial)
    except Busy as busy:  # the session is in another call or connection: 409, not 503
        await call.end()
        raise Conflict(busy.message, param="session_id", code=busy.code, retry_after=5) from None
    except BaseException:
        await call.end()
        raise
    return call.id, answer


async def hang_up(services: RealtimeServices, call_id: str, principal: Principal) -> None:
    call = services.calls.get(call_id)
    if call is None or not principal.sees(call.owner):
        raise NotFound(f"no call {call_id!r}", param="call_id")
    await call.end()


async def end_all(services: RealtimeServices) -> None:
    await asyncio.gather(*(c.end() for c in list(services.calls.values())))
