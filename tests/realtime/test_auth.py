"""The realtime WebSocket with authentication and rate limits on (api_key mode): the
official SDK connects with a key as it sends one (Authorization: Bearer); the session
it creates is its user's; another user asking for it hears `error` as for a missing
session and is closed; a browser opens it with a client secret in the subprotocol;
a response is a turn of the user's turn budget: past it, `error` with
`rate_limit_exceeded`, and the connection goes on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI
from pydantic import SecretStr
from websockets.asyncio.client import connect

from harness.fake_venice import FakeVenice
from harness.processes import Process
from harness.servers import ThreadServer
from tests.metrics import Scrape
from tests.realtime.conftest import worker_settings
from tests.realtime.support import TYPED, of_type, recv, until
from voice_worker.app import create_app
from voice_worker.auth.api_keys import hash_key, new_key
from voice_worker.auth.settings import AuthSettings
from voice_worker.ratelimit.settings import RateLimitSettings, RequestLimits

pytestmark = pytest.mark.slow
KEYS = {"alice": new_key(), "bob": new_key(), "carol": new_key()}


@pytest.fixture(scope="module")
def url(
    model_server: Process, fake: tuple[FakeVenice, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    settings = worker_settings(model_server, fake[1], tmp_path_factory.mktemp("realtime-auth"))
    settings.auth = AuthSettings(
        mode="api_key",
        api_keys={user: hash_key(key) for user, key in KEYS.items()},
        client_secret_key=SecretStr("k" * 32),
    )
    settings.rate_limit = RateLimitSettings(requests=RequestLimits(turns=1))  # a minute each
    with ThreadServer(create_app(settings)) as server:
        yield server.url


def sdk(url: str, user: str) -> AsyncOpenAI:
    base = f"{url}/v1"
    ws = base.replace("http://", "ws://")
    return AsyncOpenAI(base_url=base, websocket_base_url=ws, api_key=KEYS[user], max_retries=0)


async def call(method: str, url: str, user: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEYS[user]}"}) as client:
        return await client.request(method, url, **kwargs)


async def scraped(url: str) -> Scrape:
    async with httpx.AsyncClient() as client:
        return Scrape((await client.get(f"{url}/metrics")).text)


async def open_connections(url: str) -> float:
    return (await scraped(url)).value("voice_worker_realtime_connections")


async def answered(connection: Any) -> Any:
    await connection.conversation.item.create(item=TYPED)
    await connection.response.create()
    return await until(connection, of_type("response.done", "error"))


async def test_a_session_is_its_users_alone(url: str, venice: Any) -> None:
    async with sdk(url, "alice").realtime.connect(model="m") as connection:
        session_id = (await recv(connection)).session.model_dump()["id"]
        assert (await answered(connection)).response.status == "completed"
    mine = await call("GET", f"{url}/api/voice/sessions/{session_id}", "alice")
    assert mine.status_code == 200 and mine.json()["owner"] == "alice"
    async with sdk(url, "bob").realtime.connect(
        model="m", extra_query={"session_id": session_id}
    ) as intruder:
        refused = await recv(intruder)
        assert refused.type == "error" and refused.error.param == "session_id"
        assert "alice" not in refused.error.message
        with pytest.raises(Exception, match="1008"):
            await recv(intruder)
    history = (await call("GET", f"{url}/api/voice/sessions/{session_id}/messages", "alice")).json()
    assert [m["text"] for m in history["items"]] == ["Hm?", "Hello from Venice."]


async def test_a_response_past_the_turn_budget_is_an_error_event(url: str, venice: Any) -> None:
    refusals = "voice_worker_quota_refusals_total"
    before = (await scraped(url)).value(refusals, budget="requests")
    async with sdk(url, "carol").realtime.connect(model="m") as connection:
        await recv(connection)
        assert (await answered(connection)).response.status == "completed"
        refused = await answered(connection)
        assert refused.type == "error" and refused.error.code == "rate_limit_exceeded"
        assert refused.error.type == "rate_limit_error" and "turns" in refused.error.message
        assert (await scraped(url)).value(refusals, budget="requests") == before + 1
        await connection.session.update(session={"type": "realtime", "instructions": "Be brief."})
        updated = await until(connection, of_type("session.updated"))  # still connected
        assert updated.session.instructions == "Be brief."


async def test_a_browser_opens_it_with_a_client_secret(url: str) -> None:
    made = await call("POST", f"{url}/v1/realtime/client_secrets", "bob", json={})
    assert made.status_code == 200, made.text
    secret = made.json()["value"]
    ws = url.replace("http://", "ws://") + "/v1/realtime?model=m"
    protocols = ["realtime", f"openai-insecure-api-key.{secret}"]
    async with connect(ws, subprotocols=protocols) as browser:  # type: ignore[arg-type]
        assert browser.subprotocol == "realtime"
        created = json.loads(await browser.recv())
        assert created["type"] == "session.created"
        session_id = created["session"]["id"]
        assert (await open_connections(url)) == 1  # /metrics counts it while it is open
    assert (await open_connections(url)) == 0
    bobs = (await call("GET", f"{url}/api/voice/sessions", "bob")).json()
    assert session_id in [s["id"] for s in bobs["items"]]


def test_the_console_page_needs_no_key(url: str) -> None:
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and 'id="key"' in page.text
    assert httpx.get(f"{url}/console/app.js").status_code == 200
    assert httpx.get(f"{url}/api/voice/sessions").status_code == 401


def test_without_credentials_the_handshake_is_refused(url: str) -> None:
    reply = httpx.get(
        url + "/v1/realtime",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert reply.status_code == 401 and reply.json()["error"]["code"] == "missing_credentials"
