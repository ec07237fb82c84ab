"""WebSocket handshakes go through the same middleware as HTTP (the realtime route gets
this for free; tests/realtime/test_auth.py drives the real one): no credentials, 401
before the connection opens; a key as a Bearer header (as the SDKs send it) or a client
secret as the browser subprotocol opens it, and the route knows who is calling; a user
holds at most
VOICE_RATE_LIMIT__REALTIME_CONNECTIONS at once (429), every other user is unaffected,
and a closed connection gives its slot back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI, WebSocket
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from harness.servers import ThreadServer
from voice_worker.auth.api_keys import hash_key, new_key
from voice_worker.auth.authenticator import Authenticator
from voice_worker.auth.deps import PrincipalDep
from voice_worker.auth.middleware import AuthMiddleware
from voice_worker.auth.principal import Principal
from voice_worker.auth.settings import AuthSettings
from voice_worker.ratelimit.budgets import RouteBudgets
from voice_worker.ratelimit.limiter import RateLimiter
from voice_worker.ratelimit.middleware import RateLimitMiddleware
from voice_worker.ratelimit.settings import RateLimitSettings

KEYS = {"alice": new_key(), "bob": new_key()}


def app() -> tuple[FastAPI, Authenticator]:
    auth = Authenticator(
        AuthSettings(
            mode="api_key",
            api_keys={user: hash_key(key) for user, key in KEYS.items()},
            client_secret_key="s" * 32,
        )
    )
    served = FastAPI()

    @served.websocket("/v1/realtime")
    async def realtime(websocket: WebSocket, principal: PrincipalDep) -> None:
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol="realtime" if "realtime" in offered else None)
        await websocket.send_json({"user": principal.user})
        async for text in websocket.iter_text():
            await websocket.send_text(text)

    limiter = RateLimiter(RateLimitSettings(realtime_connections=1))
    served.add_middleware(
        RateLimitMiddleware, limiter=lambda: limiter, budgets=RouteBudgets(served.routes)
    )
    served.add_middleware(AuthMiddleware, authenticator=auth)
    return served, auth


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Authenticator]]:
    served, auth = app()
    with ThreadServer(served) as running:
        yield running.url.replace("http://", "ws://") + "/v1/realtime", auth


@pytest.fixture
async def opened() -> AsyncIterator[list[ClientConnection]]:
    connections: list[ClientConnection] = []
    yield connections
    for connection in connections:
        await connection.close()


async def open_as(url: str, connections: list[ClientConnection], **options: Any) -> str:
    connection = await connect(url, open_timeout=10, **options)
    connections.append(connection)
    hello = json.loads(await connection.recv())
    return str(hello["user"])


async def refused(url: str, **options: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url, open_timeout=10, **options):
            pass
    response = caught.value.response
    return response.status_code, json.loads(response.body or b"{}")


async def test_the_handshake_needs_credentials(
    server: tuple[str, Authenticator], opened: list[ClientConnection]
) -> None:
    url, auth = server
    status, body = await refused(url)
    assert status == 401 and body["error"]["code"] == "missing_credentials"
    status, body = await refused(url, additional_headers={"Authorization": "Bearer ve_nope"})
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    # a long-lived key is refused in the subprotocol (it would sit in browser code)
    status, _ = await refused(url, subprotocols=[f"openai-insecure-api-key.{KEYS['alice']}"])
    assert status == 401
    bearer = {"Authorization": f"Bearer {KEYS['alice']}"}
    assert await open_as(url, opened, additional_headers=bearer) == "alice"
    await opened.pop().close()
    secret = auth.client_secrets.mint(Principal("bob")).value
    protocols = ["realtime", f"openai-insecure-api-key.{secret}"]
    assert await open_as(url, opened, subprotocols=protocols) == "bob"  # a browser


async def test_concurrent_connections_are_limited_per_user(
    server: tuple[str, Authenticator], opened: list[ClientConnection]
) -> None:
    url, _ = server
    alice = {"Authorization": f"Bearer {KEYS['alice']}"}
    bob = {"Authorization": f"Bearer {KEYS['bob']}"}
    assert await open_as(url, opened, additional_headers=alice) == "alice"
    status, body = await refused(url, additional_headers=alice)
    assert status == 429 and body["error"]["code"] == "rate_limit_exceeded"
    assert await open_as(url, opened, additional_headers=bob) == "bob"  # another user
    await opened.pop(0).close()  # alice's connection ends: its slot comes back
    deadline = asyncio.get_running_loop().time() + 10
    while True:  # (the server frees it as it sees the close: at once, or nearly)
        try:
            assert await open_as(url, opened, additional_headers=alice) == "alice"
            break
        except InvalidStatus as exc:
            status = exc.response.status_code
        assert status == 429
        assert asyncio.get_running_loop().time() < deadline, "the slot never came back"
        await asyncio.sleep(0.05)
    await opened[-1].send("still here")
    assert await opened[-1].recv() == "still here"
