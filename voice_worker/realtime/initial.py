"""A session's first settings, given before its first event: a session object as
`session.update` takes, from a client secret (`POST /v1/realtime/client_secrets`'s
`session`, carried in the secret) or a WebRTC call's form (`session`). Each is applied
as a `session.update` right after `session.created` (`session.updated` follows), the
secret's first, so a call's form can change what its secret set."""

from __future__ import annotations

import json

from openai.types.realtime import SessionUpdateEvent

from voice_worker.auth.principal import Principal
from voice_worker.errors import InvalidRequest
from voice_worker.realtime.protocol import BadEvent, parse_event

#: the most a client secret's session may hold, as JSON (it travels in a header)
MAX_SECRET_SESSION_CHARS = 8 * 1024


def session_update(session: object, param: str = "session") -> SessionUpdateEvent:
    """`session` (a JSON-shaped value) as a `session.update`; InvalidRequest naming the
    field that is wrong."""
    if not isinstance(session, dict):
        raise InvalidRequest("session is a JSON object (a session object)", param=param)
    try:
        event = parse_event(json.dumps({"type": "session.update", "session": session}), "ga")
    except BadEvent as bad:
        raise bad.error from None
    assert isinstance(event, SessionUpdateEvent)
    return event


def of_secret(principal: Principal) -> list[SessionUpdateEvent]:
    """The settings the caller's client secret carries (none for a key or a token)."""
    if not principal.client_session:
        return []
    return [session_update(json.loads(principal.client_session))]
