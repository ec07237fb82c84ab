"""WebRTC calls with authentication on (api_key mode), as a browser makes them: its
server asks `POST /v1/realtime/client_secrets` for a short-lived secret carrying the
session's settings, the browser (an aiortc client here) posts its SDP offer to
`/v1/realtime/calls` with `Authorization: Bearer <secret>`; the call's session is the
key's user's, opens with the secret's settings (session.updated after
session.created), and answers. A secret opens one session: used again, expired, or
sent anywhere else it is a 401 saying why. The realtime WebSocket applies a secret's
settings the same way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from fastapi import FastAPI
from pydantic import SecretStr
from websockets.asyncio.client import connect

from harness.fake_venice import FakeVenice
from harness.processes import Process
from harness.servers import ThreadServer
from tests.realtime.conftest import worker_settings
from tests.realtime.support import TYPED, silence
from tests.realtime.test_webrtc import Microphone, offer
from voice_worker.app import create_app
from voice_worker.auth.api_keys import hash_key, new_key
from voice_worker.auth.principal import Principal
from voice_worker.auth.settings import AuthSettings

pytestmark = pytest.mark.slow
KEYS = {"alice": new_key(), "bob": new_key()}
SESSION = {
    "type": "realtime",
    "instructions": "Answer in one short sentence.",
    "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 1200}}},
}


@pytest.fixture(scope="module")
def served(
    model_server: Process, fake: tuple[FakeVenice, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, FastAPI]]:
    fake[0].scenario = "plain"
    settings = worker_settings(model_server, fake[1], tmp_path_factory.mktemp("webrtc-auth"))
    settings.auth = AuthSettings(
        mode="api_key",
        api_keys={user: hash_key(key) for user, key in KEYS.items()},
        client_secret_key=SecretStr("k" * 32),
    )
    app = create_app(settings)
    with ThreadServer(app) as server:
        yield server.url, app


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def client_secret(url: str, user: str, session: object = SESSION) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.post(
            "/v1/realtime/client_secrets", json={"session": session}, headers=bearer(KEYS[user])
        )


async def post_offer(url: str, sdp: str, credential: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        headers = {**bearer(credential), "content-type": "application/sdp"}
        return await client.post("/v1/realtime/calls", content=sdp, headers=headers)


def peer() -> tuple[RTCPeerConnection, Any, asyncio.Queue[dict[str, Any]]]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = pc.createDataChannel("oai-events")
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    channel.on("message", lambda m: events.put_nowait(json.loads(m)))
    pc.addTrack(Microphone(silence(30.0)))
    return pc, channel, events


def refusal(reply: httpx.Response) -> str:
    assert reply.status_code == 401, reply.text
    assert reply.headers["www-authenticate"].startswith('Bearer realm="voice-engine"')
    error = reply.json()["error"]
    assert error["code"] == "invalid_token"
    return str(error["message"])


async def test_a_browser_calls_with_a_client_secret_and_its_session(
    served: tuple[str, FastAPI],
) -> None:
    url, app = served
    made = await client_secret(url, "alice")
    assert made.status_code == 200, made.text
    secret = made.json()
    assert secret["value"].startswith("ek_") and secret["session"] == SESSION
    pc, channel, events = peer()
    sdp = await offer(pc)
    answer = await post_offer(url, sdp, secret["value"])
    assert answer.status_code == 201, answer.text
    location = answer.headers["location"]
    await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
    created = await asyncio.wait_for(events.get(), 20)
    assert created["type"] == "session.created"
    updated = await asyncio.wait_for(events.get(), 10)  # the secret's settings, at once
    assert updated["type"] == "session.updated", updated
    assert updated["session"]["instructions"] == SESSION["instructions"]
    detection = updated["session"]["audio"]["input"]["turn_detection"]
    assert detection["type"] == "server_vad" and detection["silence_duration_ms"] == 1200
    channel.send(json.dumps({"type": "conversation.item.create", "item": TYPED}))
    channel.send(json.dumps({"type": "response.create"}))
    event = created
    while event["type"] != "response.done":
        event = await asyncio.wait_for(events.get(), 60)
        assert event["type"] != "error", event
    assert event["response"]["status"] == "completed"
    # one session, one call: another call to it while this one is open is a 409
    other, _, _ = peer()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        busy = await client.post(
            f"/v1/realtime/calls?session_id={created['session']['id']}",
            content=await offer(other),
            headers={**bearer(KEYS["alice"]), "content-type": "application/sdp"},
        )
    await other.close()
    assert busy.status_code == 409 and busy.headers["retry-after"], busy.text
    assert busy.json()["error"]["code"] == "session_in_use"
    assert list(app.state.realtime.calls) == [location.rsplit("/", 1)[1]]
    # the secret is spent: the same offer again is refused, saying so
    assert "has been used" in refusal(await post_offer(url, sdp, secret["value"]))
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        # a secret opens sessions only: hanging up takes the key (a browser closes its peer)
        another = (await client_secret(url, "alice")).json()["value"]
        refused = await client.delete(location, headers=bearer(another))
        assert "realtime session only" in refusal(refused)
        assert (await client.delete(location, headers=bearer(KEYS["bob"]))).status_code == 404
        assert (await client.delete(location, headers=bearer(KEYS["alice"]))).status_code == 204
        sessions = await client.get("/api/voice/sessions", headers=bearer(KEYS["alice"]))
    await pc.close()
    assert created["session"]["id"] in [s["id"] for s in sessions.json()["items"]]  # alice's
    assert not app.state.realtime.calls


async def test_an_expired_or_foreign_secret_or_session_is_refused(
    served: tuple[str, FastAPI],
) -> None:
    url, app = served
    pc, _, _ = peer()
    sdp = await offer(pc)
    await pc.close()
    expired = app.state.client_secrets.mint(Principal("alice"), seconds=-30).value
    assert "has expired" in refusal(await post_offer(url, sdp, expired))
    forged = "ek_" + KEYS["alice"]
    assert "not valid" in refusal(await post_offer(url, sdp, forged))
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:  # another's session
        headers = {**bearer(KEYS["bob"]), "content-type": "application/sdp"}
        missing = await client.post(
            "/v1/realtime/calls?session_id=sess_nope", content=sdp, headers=headers
        )
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "session_id"
    assert not app.state.realtime.calls


async def test_a_client_secrets_session_is_checked_when_it_is_made(
    served: tuple[str, FastAPI],
) -> None:
    url, _ = served
    bad = await client_secret(url, "alice", {"type": "realtime", "voice_speed": 3})
    assert bad.status_code == 400, bad.text
    assert "voice_speed" in json.dumps(bad.json()["error"])
    detection = {"type": "server_vad", "silence_duration_ms": "soon"}
    bad = await client_secret(url, "alice", {"audio": {"input": {"turn_detection": detection}}})
    assert bad.status_code == 400, bad.text
    huge = await client_secret(url, "alice", {"type": "realtime", "instructions": "x" * 9000})
    assert huge.status_code == 400 and huge.json()["error"]["param"] == "session"


async def test_the_websocket_opens_with_a_client_secrets_session(
    served: tuple[str, FastAPI],
) -> None:
    url, _ = served
    secret = (await client_secret(url, "bob")).json()["value"]
    ws = url.replace("http://", "ws://") + "/v1/realtime?model=m"
    protocols = ["realtime", f"openai-insecure-api-key.{secret}"]
    async with connect(ws, subprotocols=protocols) as browser:  # type: ignore[arg-type]
        assert json.loads(await browser.recv())["type"] == "session.created"
        updated = json.loads(await browser.recv())
        assert updated["type"] == "session.updated"
        assert updated["session"]["instructions"] == SESSION["instructions"]
    with pytest.raises(Exception, match="401"):  # used
        async with connect(ws, subprotocols=protocols):  # type: ignore[arg-type]
            pass
