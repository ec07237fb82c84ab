"""JWT behind the example bridge (deploy/bridge): the bridge forwards `Authorization`
untouched, so the worker sees each user; the worker's 401 (with WWW-Authenticate) and
its ownership 404 reach the client through the bridge as they left the worker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from harness.bridge import start_bridge
from harness.fake_venice import FakeVenice
from harness.processes import Process
from harness.servers import stop, worker_process
from tests.deploy.test_bridge import node_modules
from tests.security.support import bearer, worker_env
from tests.security.tokens import AUDIENCE, ISSUER, SECRET, hs256

pytestmark = pytest.mark.slow
__all__ = ["node_modules"]


@pytest.fixture(scope="module")
def jwt_worker(
    tmp_path_factory: pytest.TempPathFactory,
    model_server: Process,
    venice: tuple[FakeVenice, str],
) -> Iterator[Process]:
    env = worker_env(
        venice[1],
        VOICE_AUTH__MODE="jwt",
        VOICE_AUTH__JWT_SECRET=SECRET,
        VOICE_AUTH__JWT_AUDIENCE=AUDIENCE,
        VOICE_AUTH__JWT_ISSUER=ISSUER,
    )
    directory = tmp_path_factory.mktemp("bridge-jwt")
    with worker_process(directory, model_server.address, env) as worker:
        yield worker


def test_the_bridge_forwards_each_users_token(
    node_modules: None, jwt_worker: Process, tmp_path: Path
) -> None:
    popen, url = start_bridge(tmp_path, [f"http://{jwt_worker.address}"])
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            refused = client.get("/api/voice/sessions")
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert refused.json()["error"]["code"] == "missing_credentials"
            alice = bearer(hs256("alice"))
            created = client.post("/api/voice/sessions", json={"title": "hi"}, headers=alice)
            assert created.status_code == 201 and created.json()["owner"] == "alice"
            sid = created.json()["id"]
            assert client.get(f"/api/voice/sessions/{sid}", headers=alice).status_code == 200
            bob = bearer(hs256("bob"))
            assert client.get(f"/api/voice/sessions/{sid}", headers=bob).status_code == 404
            listed = client.get("/api/voice/sessions", headers=alice)
            assert "x-ratelimit-remaining-requests" in listed.headers  # limits on with auth
    finally:
        stop(popen)


async def test_the_realtime_handshake_through_the_bridge_carries_the_token(
    node_modules: None, jwt_worker: Process, tmp_path: Path
) -> None:
    """The worker's 401 for a WebSocket handshake without a token comes back through the
    bridge as it left the worker; with alice's token the session is hers."""
    popen, url = start_bridge(tmp_path, [f"http://{jwt_worker.address}"])
    ws = f"{url.replace('http://', 'ws://')}/v1/realtime?model=gpt-realtime"
    try:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws):
                pass
        response = refused.value.response
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert json.loads(response.body)["error"]["code"] == "missing_credentials"

        async with connect(ws, additional_headers=bearer(hs256("alice"))) as connection:
            created = json.loads(await connection.recv())
            assert created["type"] == "session.created"
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            session = f"/api/voice/sessions/{created['session']['id']}"
            mine = await client.get(session, headers=bearer(hs256("alice")))
            assert mine.status_code == 200 and mine.json()["owner"] == "alice"
            assert (await client.get(session, headers=bearer(hs256("bob")))).status_code == 404
    finally:
        stop(popen)
