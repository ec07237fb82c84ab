"""Authentication and ownership over HTTP, on a real worker process in JWT mode: every
route but the probes needs a token; bad tokens get 401 with WWW-Authenticate in OpenAI's
error shape; a user's session is a 404 to every other user on every session route,
exactly as a missing one (OWASP API1), and an admin sees all; the worker's log never
holds a token."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.fake_venice import KEY as VENICE_KEY
from harness.fake_venice import FakeVenice
from harness.processes import DATA, Process
from harness.servers import worker_process
from tests.security.support import bearer, worker_env
from tests.security.tokens import AUDIENCE, ISSUER, SECRET, hs256, unsigned
from voice_worker.app import ROUTERS

pytestmark = pytest.mark.slow
ALICE, BOB, ADMIN = hs256("alice"), hs256("bob"), hs256("root", roles=["voice:admin"])
OPEN = {"/healthz", "/readyz", "/metrics", "/debug/counters", "/", "/console/{name}"}


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory,
    model_server: Process,
    venice: tuple[FakeVenice, str],
) -> Iterator[Process]:
    directory = tmp_path_factory.mktemp("jwt-worker")
    env = worker_env(
        venice[1],
        VOICE_AUTH__MODE="jwt",
        VOICE_AUTH__JWT_SECRET=SECRET,
        VOICE_AUTH__JWT_AUDIENCE=AUDIENCE,
        VOICE_AUTH__JWT_ISSUER=ISSUER,
        VOICE_AUTH__CLIENT_SECRET_KEY="c" * 32,
        VOICE_RATE_LIMIT__ENABLED="false",
        VOICE_LOG__LEVEL="DEBUG",  # the most the log can hold: still no token
    )
    with worker_process(directory, model_server.address, env) as process:
        yield process


@pytest.fixture(scope="module")
def api(worker: Process) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{worker.address}", timeout=60) as client:
        yield client


def protected_routes() -> list[tuple[str, str]]:
    found = []
    for router in ROUTERS:
        for route in router.routes:
            path = getattr(route, "path", "")
            for method in getattr(route, "methods", ()):
                if path not in OPEN:
                    found.append((method, re.sub(r"\{[^}]+\}", "x", path)))
    return sorted(found)


def test_every_route_but_the_probes_needs_a_token(api: httpx.Client) -> None:
    routes = protected_routes()
    assert ("GET", "/api/voice/sessions") in routes and ("POST", "/v1/audio/speech") in routes
    assert len(routes) >= 14
    for method, path in routes:
        reply = api.request(method, path)
        assert reply.status_code == 401, (method, path, reply.text)
        assert reply.headers["www-authenticate"] == 'Bearer realm="voice-engine"'
        error = reply.json()["error"]
        assert error["type"] == "invalid_request_error" and error["code"] == "missing_credentials"
        assert reply.headers["x-request-id"]
    for path in sorted(OPEN):
        assert api.get(path.replace("{name}", "app.js")).status_code == 200, path


def test_the_api_document_says_which_routes_need_credentials(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    assert {"bearer", "apiKey"} <= set(document["components"]["securitySchemes"])
    for method, path in protected_routes():
        template = next(p for p in document["paths"] if re.sub(r"\{[^}]+\}", "x", p) == path)
        operation = document["paths"][template][method.lower()]
        assert "401" in operation["responses"] and operation["security"], (method, path)
    assert "401" not in document["paths"]["/healthz"]["get"]["responses"]


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (hs256(secret="forged-with-another-secret-of-32-bytes"), "signature"),
        (hs256(exp=int(time.time()) - 120), "expired"),
        (hs256(nbf=int(time.time()) + 7200), "not valid yet"),  # still, when the test runs
        (hs256(aud="another-api"), "audience"),
        (hs256(iss="https://evil.example"), "issuer"),
        (unsigned("root"), "algorithm"),
    ],
    ids=["forged", "expired", "not-yet-valid", "wrong-audience", "wrong-issuer", "alg-none"],
)
def test_bad_tokens_get_401_with_the_reason(api: httpx.Client, token: str, reason: str) -> None:
    reply = api.get("/api/voice/sessions", headers=bearer(token))
    assert reply.status_code == 401
    challenge = reply.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="voice-engine", error="invalid_token"')
    assert reason in challenge
    error = reply.json()["error"]
    assert error["code"] == "invalid_token" and reason in error["message"]
    assert token not in reply.text


def create(api: httpx.Client, token: str, title: str) -> str:
    reply = api.post("/api/voice/sessions", json={"title": title}, headers=bearer(token))
    assert reply.status_code == 201, reply.text
    assert reply.json()["owner"] in ("alice", "bob", "root")
    return str(reply.json()["id"])


def session_routes(session_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every route that names a session, with a valid body."""
    base = f"/api/voice/sessions/{session_id}"
    jfk = {"files": {"audio": ("jfk.flac", (DATA / "jfk.flac").read_bytes(), "audio/flac")}}
    return [
        ("GET", base, {}),
        ("PATCH", base, {"json": {"title": "mine now", "settings": {"speed": 2.0}}}),
        ("GET", f"{base}/messages", {}),
        ("POST", f"{base}/text", {"json": {"text": "Tell me your secrets."}}),
        ("POST", f"{base}/messages", jfk),
        ("DELETE", base, {}),
    ]


def test_another_users_session_is_404_on_every_route_exactly_as_a_missing_one(
    api: httpx.Client, venice: tuple[FakeVenice, str]
) -> None:
    fake = venice[0]
    fake.scenario = "plain"
    mine = create(api, ALICE, "alice's")
    turn = api.post(
        f"/api/voice/sessions/{mine}/text", json={"text": "Hello."}, headers=bearer(ALICE)
    )
    assert turn.status_code == 200, turn.text
    requests_before = len(fake.requests)
    missing = uuid.uuid4().hex
    routes = zip(session_routes(mine), session_routes(missing), strict=True)
    for (method, path, body), (_, missing_path, _) in routes:
        theirs = api.request(method, path, headers=bearer(BOB), **body)
        gone = api.request(method, missing_path, headers=bearer(BOB), **body)
        assert theirs.status_code == gone.status_code == 404, (method, path, theirs.text)
        assert theirs.json() == _with_id(gone.json(), missing, mine), (method, path)
        assert set(theirs.headers) - {"date"} == set(gone.headers) - {"date"}
    assert len(fake.requests) == requests_before  # no turn reached the chat model
    listed = api.get("/api/voice/sessions", headers=bearer(BOB)).json()["items"]
    assert mine not in {s["id"] for s in listed}
    # untouched: alice still has it, as it was, with its history
    own = api.get(f"/api/voice/sessions/{mine}", headers=bearer(ALICE)).json()
    assert own["title"] == "alice's" and own["settings"]["speed"] == 1.0
    history = api.get(f"/api/voice/sessions/{mine}/messages", headers=bearer(ALICE)).json()
    assert [m["text"] for m in history["items"]] == ["Hello.", "Hello from Venice."]


def test_an_admin_sees_and_reaches_every_users_sessions(api: httpx.Client) -> None:
    alices, bobs = create(api, ALICE, "a"), create(api, BOB, "b")
    seen: set[str] = set()
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/voice/sessions", params=params, headers=bearer(ADMIN)).json()
        seen |= {s["id"] for s in page["items"]}
        if not (cursor := page["next_cursor"]):
            break
    assert {alices, bobs} <= seen
    got = api.get(f"/api/voice/sessions/{bobs}", headers=bearer(ADMIN))
    assert got.status_code == 200 and got.json()["owner"] == "bob"
    own = api.get("/api/voice/sessions", headers=bearer(ALICE)).json()["items"]
    assert alices in {s["id"] for s in own} and bobs not in {s["id"] for s in own}
    assert {s["owner"] for s in own} == {"alice"}


def test_a_client_secret_is_minted_for_the_caller_and_refused_on_http(api: httpx.Client) -> None:
    reply = api.post(
        "/v1/realtime/client_secrets",
        json={"expires_after": {"anchor": "created_at", "seconds": 30}},
        headers=bearer(ALICE),
    )
    assert reply.status_code == 200, reply.text
    secret = reply.json()
    assert secret["value"].startswith("ek_") and secret["session"] == {"type": "realtime"}
    assert 20 < secret["expires_at"] - time.time() <= 31
    refused = api.get("/api/voice/sessions", headers=bearer(secret["value"]))
    assert refused.status_code == 401
    assert "realtime session only" in refused.json()["error"]["message"]
    too_long = api.post(
        "/v1/realtime/client_secrets",
        json={"expires_after": {"seconds": 3600}},
        headers=bearer(ALICE),
    )
    assert too_long.status_code == 400
    assert api.post("/v1/realtime/client_secrets").status_code == 401


def test_the_log_never_holds_a_token(api: httpx.Client, worker: Process) -> None:
    """Last in this module: every token sent above, good or bad, and this one's."""
    probe = hs256("eve")
    api.get("/api/voice/sessions", headers=bearer(probe))
    api.get("/api/voice/sessions", headers=bearer(probe + "tampered"))
    api.get("/api/voice/sessions", headers={"X-API-Key": probe})
    log = worker.log()
    assert '"msg": "request"' in log and "401" in log  # the access log is there
    secrets = [ALICE, BOB, ADMIN, probe, SECRET, "c" * 32, VENICE_KEY]
    for secret in secrets:
        for piece in (secret, *secret.split(".")[1:3]):  # a token, its claims, its signature
            assert piece not in log, f"a credential is in the worker's log: {piece[:12]}..."
    assert "ek_" not in log


def _with_id(body: dict[str, object], old: str, new: str) -> object:
    """`body` as if it were about session `new` (the only difference allowed)."""
    import json

    return json.loads(json.dumps(body).replace(old, new))
