"""The principal a route works for (set by auth.middleware): `PrincipalDep` for HTTP and
WebSocket routes alike."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from voice_worker.auth.principal import Principal


def principal(connection: HTTPConnection) -> Principal:
    found = connection.scope.get("state", {}).get("principal")
    if not isinstance(found, Principal):  # never serve a route the middleware skipped
        raise RuntimeError(f"{connection.url.path} has no principal: is it an open path?")
    return found


PrincipalDep = Annotated[Principal, Depends(principal)]
