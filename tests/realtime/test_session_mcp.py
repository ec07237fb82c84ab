"""MCP servers a realtime client names in `session.tools` (OpenAI's `mcp` tool), run
by the worker, with the official `openai` SDK: a real MCP server from the `mcp`
package (streamable HTTP, tests/tools/mcp_servers.py), the fake upstream as the chat
model (it calls the tool, then answers with what it returned). The server's tools are
listed (`mcp_list_tools`), a call is an `mcp_call` item with its events and output,
the answer spoken; `require_approval` waits for the client's `mcp_approval_response`
(approved: called; denied: not called, the model reads so); a URL the worker does not
allow (VOICE_TOOLS__ALLOWED_MCP_URLS) is an error naming it; the worker's own servers
can be switched off per session; a server stopped mid-run is an error output the model
reads, and the turn still answers."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from harness.fake_venice import KEY, FakeVenice
from harness.processes import Process, words
from harness.servers import ThreadServer
from tests.realtime.conftest import Worker
from tests.realtime.support import of_type, recv, until, wav
from tests.tools.mcp_servers import Facts, serve
from voice_worker.app import create_app
from voice_worker.settings import Settings
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.stt.local import LocalWhisperSTT

pytestmark = pytest.mark.slow
ASK: Any = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "What is the weather in Paris?"}],
}
SUNNY = "Sunny in Paris, 21 degrees."


@dataclass
class Mcp:
    worker: Worker
    facts: Facts
    facts_url: str
    flaky: ThreadServer
    flaky_url: str


@pytest.fixture(scope="module")
def mcp(
    model_server: Process, fake: tuple[FakeVenice, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mcp]:
    venice, venice_url = fake
    facts = Facts()
    with serve(facts.server()) as facts_server, serve(Facts().server()) as flaky:
        facts_url, flaky_url = f"{facts_server.url}/mcp", f"{flaky.url}/mcp"
        settings = Settings(
            stt={"provider": "local"},
            tts={"model_server": model_server.address, "max_retries": 0},
            chat={
                "provider": "venice",
                "max_retries": 0,
                "venice": {"api_key": KEY, "base_url": venice_url},
            },
            tools={
                "mcp_servers": [{"label": "own", "url": facts_url, "allowed_tools": ["echo"]}],
                "allowed_mcp_urls": [facts_url, flaky_url + "/"],  # a trailing / ignored
                "call_timeout_seconds": 2,
            },
            response_cache={"enabled": False},
            database={"tts_models_sync_seconds": 0},
            data_dir=tmp_path_factory.mktemp("realtime-mcp"),
            access_log=False,
        )
        with ThreadServer(create_app(settings)) as server:
            yield Mcp(Worker(server.url, venice), facts, facts_url, flaky, flaky_url)


@pytest.fixture
def calling(mcp: Mcp) -> Iterator[FakeVenice]:
    fake = mcp.worker.fake
    fake.scenario, fake.tool_calls = "tools", [("weather", {"city": "Paris"})]
    fake.requests.clear()
    mcp.facts.calls.clear()
    mcp.facts.authorization.clear()
    yield fake
    fake.scenario, fake.tool_calls = "plain", []


@pytest.fixture(scope="module")
def ear() -> LocalWhisperSTT:
    return LocalWhisperSTT()


def facts_tool(mcp: Mcp, **extra: Any) -> Any:
    return {
        "type": "mcp",
        "server_label": "facts",
        "server_url": mcp.facts_url,
        "allowed_tools": ["weather"],
        **extra,
    }


def text_of(events: list[Any]) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")


def audio_of(events: list[Any]) -> bytes:
    return b"".join(
        base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
    )


def offered(fake: FakeVenice) -> list[str]:
    return [t["function"]["name"] for t in fake.requests[-1].get("tools", [])]


async def update(connection: Any, tools: list[Any]) -> list[Any]:
    """session.update with `tools`; the events up to the last listing's end."""
    await connection.session.update(session={"type": "realtime", "tools": tools})
    seen: list[Any] = []
    await until(connection, of_type("session.updated"), seen)
    for _ in [t for t in tools if t.get("server_url")]:
        await until(connection, of_type("mcp_list_tools.completed", "mcp_list_tools.failed"), seen)
    await until(connection, of_type("conversation.item.done"), seen)
    return seen


async def test_a_session_mcp_server_is_listed_called_and_answered(
    mcp: Mcp, calling: FakeVenice, ear: LocalWhisperSTT
) -> None:
    async with mcp.worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        created = await recv(connection)
        session_id = created.session.model_dump()["id"]
        tool = facts_tool(mcp, require_approval="never", headers={"Authorization": "Bearer t"})
        seen = await update(connection, [tool])
        kinds = [e.type for e in seen]
        assert kinds.index("mcp_list_tools.in_progress") < kinds.index("mcp_list_tools.completed")
        listing = [e for e in seen if e.type == "conversation.item.done"][-1].item
        assert listing.type == "mcp_list_tools" and listing.server_label == "facts"
        assert [t.name for t in listing.tools] == ["weather"]
        reported = next(e for e in seen if e.type == "session.updated").session.tools
        assert [(t.type, t.server_label) for t in reported] == [("mcp", "facts")]
        assert reported[0].headers is None  # secrets are not reported back

        await connection.conversation.item.create(item=ASK)
        await connection.response.create()
        events: list[Any] = []
        done = await until(connection, of_type("response.done"), events)
        assert done.response.status == "completed"
        output = done.response.output
        assert [o.type for o in output] == ["mcp_call", "message"], (
            text_of(events),
            offered(calling),
            mcp.facts.calls,
        )
        assert (output[0].server_label, output[0].name, output[0].output) == (
            "facts",
            "weather",
            SUNNY,
        )
        kinds = [e.type for e in events]
        assert kinds.index("response.mcp_call_arguments.done") < kinds.index(
            "response.mcp_call.in_progress"
        )
        assert kinds.index("response.mcp_call.in_progress") < kinds.index(
            "response.mcp_call.completed"
        )
        assert "response.mcp_call.failed" not in kinds
        arguments = next(e for e in events if e.type == "response.mcp_call_arguments.done")
        assert arguments.arguments == output[0].arguments and "Paris" in arguments.arguments
        assert text_of(events) == f"The tool says: {SUNNY}"
        assert {"sunny", "paris"} <= set(words(await heard(ear, audio_of(events))))
    assert mcp.facts.calls == [("weather", {"city": "Paris"})]
    assert mcp.facts.authorization == ["Bearer t"]
    assert sorted(offered(calling)) == ["echo", "weather"]  # the worker's own too
    async with httpx.AsyncClient(base_url=mcp.worker.url, timeout=10) as client:
        page = await client.get(f"/api/voice/sessions/{session_id}/messages")
    reply = page.json()["items"][1]
    assert [(c["name"], c["output"]) for c in reply["tool_calls"]] == [("weather", SUNNY)]


async def heard(ear: LocalWhisperSTT, pcm: bytes) -> str:
    return (await ear.transcribe(wav(pcm), TranscriptionOptions("en"))).text


@pytest.mark.parametrize("approve", [True, False])
async def test_a_call_waits_for_the_clients_approval(
    mcp: Mcp, calling: FakeVenice, approve: bool
) -> None:
    async with mcp.worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        await recv(connection)
        await update(connection, [facts_tool(mcp)])  # require_approval: always, by default
        await connection.conversation.item.create(item=ASK)
        await connection.response.create()
        done = await until(connection, of_type("response.done"))
        assert [o.type for o in done.response.output] == ["mcp_approval_request"]
        request = done.response.output[0]
        assert (request.server_label, request.name) == ("facts", "weather")
        assert mcp.facts.calls == []  # not called before it is approved
        answer: Any = {
            "type": "mcp_approval_response",
            "id": f"mcpa_{int(approve)}",
            "approval_request_id": request.id,
            "approve": approve,
        }
        await connection.conversation.item.create(item=answer)
        added = await until(connection, of_type("conversation.item.added", "error"))
        assert added.type == "conversation.item.added", added
        assert added.item.type == "mcp_approval_response" and added.item.approve is approve
        await connection.response.create()
        events: list[Any] = []
        done = await until(connection, of_type("response.done"), events)
        assert done.response.status == "completed"
        kinds = [o.type for o in done.response.output]
        if approve:
            assert kinds == ["mcp_call", "message"]
            assert mcp.facts.calls == [("weather", {"city": "Paris"})]
            assert text_of(events) == f"The tool says: {SUNNY}"
        else:
            assert kinds == ["message"]
            assert mcp.facts.calls == []
            assert text_of(events) == "The tool says: error: the user did not approve this call"

        wrong: Any = {**answer, "approval_request_id": "mcpr_nobody"}
        await connection.conversation.item.create(item=wrong)
        error = await until(connection, of_type("error"))
        assert error.error.param == "item.approval_request_id"
        assert "mcpr_nobody" in error.error.message


async def test_a_url_the_worker_does_not_allow_is_refused(mcp: Mcp, calling: FakeVenice) -> None:
    async with mcp.worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        await recv(connection)
        elsewhere = "http://169.254.169.254/mcp"
        tools: Any = [{**facts_tool(mcp), "server_url": elsewhere}]
        await connection.session.update(session={"type": "realtime", "tools": tools})
        error = await until(connection, of_type("error", "session.updated"))
        assert error.type == "error"
        assert error.error.param == "session.tools[0].server_url"
        assert elsewhere in error.error.message and error.error.code == "mcp_server_not_allowed"
        await update(connection, [facts_tool(mcp, require_approval="never")])  # it goes on


async def test_the_workers_own_servers_can_be_switched_off(mcp: Mcp, calling: FakeVenice) -> None:
    async with mcp.worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        await recv(connection)
        off: Any = [{"type": "mcp", "server_label": "worker", "allowed_tools": []}]
        await connection.session.update(session={"type": "realtime", "tools": off})
        await until(connection, of_type("session.updated"))
        await connection.conversation.item.create(item=ASK)
        await connection.response.create()
        events: list[Any] = []
        await until(connection, of_type("response.done"), events)
        assert text_of(events) == "No tool was needed."
    assert "tools" not in calling.requests[-1]


async def test_a_server_stopped_mid_run_is_an_error_the_model_reads(
    mcp: Mcp, calling: FakeVenice
) -> None:
    async with mcp.worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        await recv(connection)
        flaky: Any = {
            "type": "mcp",
            "server_label": "flaky",
            "server_url": mcp.flaky_url,
            "allowed_tools": ["weather"],
            "require_approval": "never",
        }
        seen = await update(connection, [flaky])
        assert "mcp_list_tools.completed" in [e.type for e in seen]
        mcp.flaky.__exit__(None, None, None)  # the server stops
        await connection.conversation.item.create(item=ASK)
        await connection.response.create()
        events: list[Any] = []
        done = await until(connection, of_type("response.done"), events)
        assert done.response.status == "completed"
        call = done.response.output[0]
        assert call.type == "mcp_call" and call.error is not None and call.output is None
        assert "response.mcp_call.failed" in [e.type for e in events]
        said = text_of(events)
        assert said.startswith("The tool says: error: weather could not be called"), said
