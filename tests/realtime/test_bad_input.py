"""What a realtime client gets wrong: each mistake is an `error` event that names it
(OpenAI's shape, with the client's `event_id`), and the connection goes on; a client
that never reads is disconnected once its unsent events pass the bound. A raw
WebSocket client (the `websockets` package), since the SDK would not send these."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from harness.fake_venice import FakeVenice
from harness.processes import Process
from harness.servers import ThreadServer
from tests.realtime.conftest import Worker, worker_settings
from voice_worker.app import create_app

MAX_APPEND = 64 * 1024
MAX_QUEUED = 64 * 1024


@pytest.fixture(scope="module")
def limited(
    model_server: Process,
    fake: tuple[FakeVenice, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    venice, venice_url = fake
    settings = worker_settings(
        model_server,
        venice_url,
        tmp_path_factory.mktemp("limited"),
        max_append_bytes=MAX_APPEND,
        max_queued_bytes=MAX_QUEUED,
    )
    with ThreadServer(create_app(settings)) as server:
        yield Worker(server.url, venice)


async def receive(ws: ClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 30))
    return event


def audio(size: int) -> str:
    return base64.b64encode(b"\0" * size).decode()


def event(kind: str, event_id: str, **fields: Any) -> str:
    return json.dumps({"type": kind, "event_id": event_id, **fields})


def update(session: dict[str, Any], event_id: str) -> str:
    return event("session.update", event_id, session={"type": "realtime", **session})


def vad(**fields: Any) -> dict[str, Any]:
    return {"audio": {"input": {"turn_detection": {"type": "server_vad", **fields}}}}


ASSISTANT = {"type": "message", "role": "assistant", "content": [{"type": "output_text"}]}
APPEND = "input_audio_buffer.append"
#: (what the client sends, the error's code, its param, words its message has)
MISTAKES: list[tuple[str | bytes, str, str | None, str]] = [
    ("{not json", "invalid_json", None, "not valid JSON"),
    (b"\x00\x01", "invalid_json", None, "text frames"),
    ('["a list"]', "invalid_json", None, "JSON object"),
    (event("session.explode", "e1"), "invalid_event_type", "type", "session.explode"),
    (event(APPEND, "e2", audio="%%not base64"), "invalid_base64", "audio", "base64"),
    (event(APPEND, "e3"), "invalid_value", "audio", "audio"),
    (
        event(APPEND, "e4", audio=audio(MAX_APPEND + 2)),
        "audio_too_large",
        "audio",
        str(MAX_APPEND),
    ),
    (update({"foo": 1}, "e5"), "unknown_parameter", "session.foo", "foo"),
    (
        update(vad(threshold=1.5), "e6"),
        "invalid_value",
        "session.audio.input.turn_detection.threshold",
        "1.5",
    ),
    (
        update({"audio": {"output": {"speed": 9}}}, "e7"),
        "invalid_value",
        "session.audio.output.speed",
        "9",
    ),
    (
        update({"audio": {"input": {"format": {"type": "audio/opus"}}}}, "e8"),
        "invalid_value",
        "session.audio.input.format.type",
        "'audio/pcmu'",
    ),
    (update({"type": "transcription"}, "e9"), "invalid_value", "session.type", "realtime"),
    (
        event("response.cancel", "e10"),
        "response_cancel_not_active",
        None,
        "Cancellation failed: no active response found",
    ),
    (
        event("conversation.item.create", "e11", item=ASSISTANT),
        "unsupported_value",
        "item.role",
        "user",
    ),
    (
        event("conversation.item.truncate", "e12", item_id="x", content_index=0, audio_end_ms=5),
        "invalid_value",
        "item_id",
        "'x'",
    ),
    (
        event("conversation.item.delete", "e13", item_id="x"),
        "item_delete_invalid_item_id",
        "item_id",
        "Error deleting item: the item with id 'x' does not exist.",
    ),
    (event("output_audio_buffer.clear", "e14"), "unsupported_event", "type", "not"),
]


def event_id_of(message: str | bytes) -> str | None:
    try:
        found = json.loads(message).get("event_id")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


async def test_each_mistake_is_an_error_event_and_the_connection_goes_on(
    limited: Worker,
) -> None:
    async with connect(limited.ws_url + "?model=m") as ws:
        assert (await receive(ws))["type"] == "session.created"
        for message, code, param, says in MISTAKES:
            await ws.send(message)
            answer = await receive(ws)
            assert answer["type"] == "error", (message, answer)
            error = answer["error"]
            assert (error["code"], error["param"]) == (code, param), (message, error)
            assert says in error["message"], (says, error["message"])
            assert error["type"] == "invalid_request_error"
            assert error.get("event_id") == event_id_of(message)
        # a commit of 50 ms: too short (the buffer holds what the append put there)
        await ws.send(update({"audio": {"input": {"turn_detection": None}}}, "ptt"))
        assert (await receive(ws))["type"] == "session.updated"
        await ws.send(event(APPEND, "a", audio=audio(2400)))
        await ws.send(event("input_audio_buffer.commit", "e20"))
        error = (await receive(ws))["error"]
        assert error["code"] == "input_audio_buffer_commit_empty" and error["event_id"] == "e20"
        assert "100 ms" in error["message"] and "50 ms" in error["message"]
        # and it still works
        await ws.send(event("input_audio_buffer.clear", "c"))
        assert (await receive(ws))["type"] == "input_audio_buffer.cleared"
        await ws.send(update({"instructions": "Still here."}, "ok"))
        updated = await receive(ws)
        assert updated["type"] == "session.updated"
        assert updated["session"]["instructions"] == "Still here."


async def test_an_unknown_session_is_refused_with_an_error(limited: Worker) -> None:
    async with connect(limited.ws_url + "?session_id=nope") as ws:
        event = await receive(ws)
        assert event["type"] == "error" and event["error"]["param"] == "session_id"
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def read_until_closed(ws: ClientConnection) -> tuple[int, ConnectionClosed]:
    """How many events the client gets before the connection closes, and how it closed."""
    received = 0
    while True:
        try:
            await receive(ws)
        except ConnectionClosed as closed:
            return received, closed
        received += 1


async def test_a_client_that_never_reads_is_disconnected(limited: Worker) -> None:
    host, port = limited.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
    sock.connect((host, int(port)))
    sock.setblocking(False)
    sent = 400
    async with connect(limited.ws_url, sock=sock, max_queue=1) as ws:
        big = update({"instructions": "x" * 2000}, "big")
        for _ in range(sent):  # each answered by a session.updated of ~2.3 kB: ~1 MB
            await ws.send(big)
        await asyncio.sleep(1.0)  # the client reads nothing meanwhile
        received, closed = await read_until_closed(ws)
    assert received < sent, "every event was kept for a client that did not read"
    assert closed.rcvd is None or closed.rcvd.code == 1008
    async with connect(limited.ws_url) as ws:  # the worker is fine
        assert (await receive(ws))["type"] == "session.created"
