"""The client's function tools in a realtime session, with the official `openai` SDK,
unchanged (OpenAI's Realtime contract): a function offered with `session.update`, a
typed question, the model's `function_call` item with its arguments (what it said
before the call spoken in its own message item), the client's `function_call_output`
and `response.create`, and a spoken answer that carries the output (heard back by
ear); the call and its output retrievable, stored with the turn and read by the model
next turn. The same under the beta names; `tool_choice: none` gives no call; an
unknown `call_id` is an error naming it and the connection goes on; bad tool shapes
are errors naming the field. The chat model is the fake OpenAI-compatible upstream
(its `tools` scenarios call the function offered, then answer with its output)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from harness.processes import words
from tests.realtime.conftest import Worker
from tests.realtime.support import of_type, recv, until, wav
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.stt.local import LocalWhisperSTT

pytestmark = pytest.mark.slow
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city, now.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
ASK: Any = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "What is the weather in Paris?"}],
}
OUTPUT = "Sunny in Paris, twenty one degrees."


@pytest.fixture(scope="module")
def ear() -> LocalWhisperSTT:
    return LocalWhisperSTT()


@pytest.fixture
def calling(venice: Any) -> Any:
    venice.scenario, venice.tool_calls = "tools_filler", [("get_weather", {"city": "Paris"})]
    venice.requests.clear()
    return venice


def audio_of(events: list[Any], kind: str = "response.output_audio.delta") -> bytes:
    import base64

    return b"".join(base64.b64decode(e.delta) for e in events if e.type == kind)


def text_of(events: list[Any], kind: str = "response.output_audio_transcript.delta") -> str:
    return "".join(e.delta for e in events if e.type == kind)


async def messages(worker: Worker, session_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=worker.url, timeout=10) as client:
        page = await client.get(f"/api/voice/sessions/{session_id}/messages")
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def test_a_function_called_answered_and_spoken(
    worker: Worker, calling: Any, ear: LocalWhisperSTT
) -> None:
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        created = await recv(connection)
        session_id = created.session.model_dump()["id"]
        await connection.session.update(
            session={"type": "realtime", "tools": [WEATHER], "tool_choice": "auto"}
        )
        updated = await until(connection, of_type("session.updated"))
        assert [t.name for t in updated.session.tools] == ["get_weather"]
        assert updated.session.tool_choice == "auto"

        await connection.conversation.item.create(item=ASK)
        await connection.response.create()
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen)
        assert done.response.status == "completed"
        kinds = [e.type for e in seen]
        added = [e for e in seen if e.type == "response.output_item.added"]
        assert [a.item.type for a in added] == ["message", "function_call"]
        call = added[1].item
        assert (call.name, call.status, call.arguments) == ("get_weather", "in_progress", "")
        assert call.call_id and added[1].output_index == 1
        deltas = [e for e in seen if e.type == "response.function_call_arguments.delta"]
        finished = next(e for e in seen if e.type == "response.function_call_arguments.done")
        assert deltas and "".join(d.delta for d in deltas) == finished.arguments
        assert json.loads(finished.arguments) == {"city": "Paris"}
        assert (finished.call_id, finished.name, finished.item_id) == (
            call.call_id,
            "get_weather",
            call.id,
        )
        assert kinds.index("response.output_item.added") < kinds.index(
            "response.function_call_arguments.delta"
        )
        assert kinds.index("response.function_call_arguments.done") < kinds.index("response.done")
        # what it said before the call is spoken, in its own message item
        assert text_of(seen).strip() == "Let me check."
        transcript = next(e for e in seen if e.type == "response.output_audio_transcript.done")
        assert transcript.transcript == "Let me check."
        filler = audio_of(seen)
        assert "check" in words(await heard(ear, filler))
        output = [(o.type, o.status) for o in done.response.output]
        assert output == [("message", "completed"), ("function_call", "completed")]
        assert done.response.output[1].arguments == finished.arguments

        await connection.conversation.item.create(
            item={"type": "function_call_output", "call_id": call.call_id, "output": OUTPUT}
        )
        output_added = await until(connection, of_type("conversation.item.added"))
        assert output_added.item.type == "function_call_output"
        assert output_added.previous_item_id == call.id
        await connection.response.create()
        answer: list[Any] = []
        done = await until(connection, of_type("response.done"), answer)
        assert done.response.status == "completed"
        assert text_of(answer) == f"The tool says: {OUTPUT}"
        said = words(await heard(ear, audio_of(answer)))
        assert {"sunny", "paris", "degrees"} <= set(said), said
        assert [o.type for o in done.response.output] == ["message"]
        # the model read the call and its output, as OpenAI's chat format has them
        prompt = calling.requests[-1]["messages"]
        assert [m["role"] for m in prompt[-3:]] == ["user", "assistant", "tool"]
        assert prompt[-2]["tool_calls"][0]["id"] == call.call_id
        assert prompt[-1] == {"role": "tool", "tool_call_id": call.call_id, "content": OUTPUT}

        await connection.conversation.item.retrieve(item_id=call.id)
        retrieved = await until(connection, of_type("conversation.item.retrieved"))
        assert retrieved.item.type == "function_call"
        assert retrieved.item.arguments == finished.arguments
        await connection.conversation.item.retrieve(item_id=output_added.item.id)
        retrieved = await until(connection, of_type("conversation.item.retrieved"))
        assert (retrieved.item.call_id, retrieved.item.output) == (call.call_id, OUTPUT)

        # next turn: the model sees the call in its history; tool_choice none: no call
        tomorrow: Any = {**ASK, "content": [{"type": "input_text", "text": "And tomorrow?"}]}
        await connection.conversation.item.create(item=tomorrow)
        await connection.response.create(response={"tool_choice": "none"})
        last: list[Any] = []
        done = await until(connection, of_type("response.done"), last)
        assert [o.type for o in done.response.output] == ["message"]
        assert not [e for e in last if e.type.startswith("response.function_call")]
        assert text_of(last) == "No tool was needed."
    prompt = calling.requests[-1]["messages"]
    assert [m["role"] for m in prompt[1:]] == ["user", "assistant", "tool", "assistant", "user"]
    assert prompt[2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert "tools" not in calling.requests[-1]
    stored = await messages(worker, session_id)
    assert [m["text"] for m in stored[:2]] == [
        "What is the weather in Paris?",
        f"Let me check. The tool says: {OUTPUT}",
    ]
    calls = stored[1]["tool_calls"]
    assert [(c["id"], c["name"], c["output"]) for c in calls] == [
        (call.call_id, "get_weather", OUTPUT)
    ]
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}


async def heard(ear: LocalWhisperSTT, pcm: bytes) -> str:
    return (await ear.transcribe(wav(pcm), TranscriptionOptions("en"))).text


async def test_the_same_with_the_beta_names(
    worker: Worker, calling: Any, ear: LocalWhisperSTT
) -> None:
    calling.scenario = "tools"  # a call alone: no words before it
    async with worker.sdk().beta.realtime.connect(model="gpt-4o-realtime-preview") as connection:
        await recv(connection)
        await connection.session.update(session={"tools": [WEATHER], "tool_choice": "get_weather"})
        updated = await until(connection, of_type("session.updated"))
        assert [t.name for t in updated.session.tools or []] == ["get_weather"]
        assert updated.session.tool_choice == "get_weather"
        await connection.conversation.item.create(item=ASK)
        await connection.response.create()
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen)
        assert [o.type for o in done.response.output] == ["function_call"]
        call = done.response.output[0]
        assert call.name == "get_weather" and json.loads(call.arguments or "") == {}
        assert not [e for e in seen if e.type.startswith("response.audio")]
        created = [e for e in seen if e.type == "conversation.item.created"]
        assert [c.item.type for c in created] == ["message", "function_call"]  # ask, call
        # the fake forced by name calls with no arguments; the request named it
        assert calling.requests[-1]["tool_choice"] == {
            "type": "function",
            "function": {"name": "get_weather"},
        }
        output: Any = {"type": "function_call_output", "call_id": call.call_id, "output": OUTPUT}
        await connection.conversation.item.create(item=output)
        await until(connection, of_type("conversation.item.created"))
        await connection.response.create(response={"tool_choice": "auto"})
        answer: list[Any] = []
        done = await until(connection, of_type("response.done"), answer)
        assert done.response.status == "completed"
        assert text_of(answer, "response.audio_transcript.delta") == f"The tool says: {OUTPUT}"
        said = words(await heard(ear, audio_of(answer, "response.audio.delta")))
        assert {"sunny", "paris"} <= set(said), said


async def test_tool_choice_none_gives_no_call(worker: Worker, calling: Any) -> None:
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        await recv(connection)
        await connection.session.update(
            session={"type": "realtime", "tools": [WEATHER], "tool_choice": "none"}
        )
        await until(connection, of_type("session.updated"))
        await connection.conversation.item.create(item=ASK)
        await connection.response.create()
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen)
        assert [o.type for o in done.response.output] == ["message"]
        assert text_of(seen) == "No tool was needed."
        assert "tools" not in calling.requests[-1]


async def test_an_unknown_call_id_is_an_error_and_the_connection_goes_on(
    worker: Worker, calling: Any
) -> None:
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        await recv(connection)
        await connection.conversation.item.create(
            item={"type": "function_call_output", "call_id": "call_nobody", "output": "42"},
            event_id="evt_out",
        )
        error = await until(connection, of_type("error"))
        assert error.error.param == "item.call_id" and "call_nobody" in error.error.message
        assert error.error.event_id == "evt_out"
        await connection.session.update(session={"type": "realtime", "tools": [WEATHER]})
        await until(connection, of_type("session.updated"))
        await connection.conversation.item.create(item=ASK)
        await connection.response.create()
        # answered at once, maybe before response.done (as pipecat does)
        early: list[Any] = []
        call = await until(connection, of_type("response.function_call_arguments.done"), early)
        right = {"type": "function_call_output", "call_id": call.call_id, "output": OUTPUT}
        await connection.conversation.item.create(item=right)  # type: ignore[arg-type]
        wrong = {"type": "function_call_output", "call_id": call.call_id + "x", "output": "?"}
        await connection.conversation.item.create(item=wrong)  # type: ignore[arg-type]
        error = await until(connection, of_type("error"), early)
        assert call.call_id + "x" in error.error.message
        added = [e.item for e in early if e.type == "conversation.item.added"]
        assert added[-1].type == "function_call_output"  # the right one, taken early
        if "response.done" not in [e.type for e in early]:
            await until(connection, of_type("response.done"))
        await connection.response.create()
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen)
        assert done.response.status == "completed"
        assert text_of(seen) == f"The tool says: {OUTPUT}"


@pytest.mark.parametrize(
    ("tools", "choice", "param"),
    [
        ([{**WEATHER, "name": "get weather"}], None, "session.tools[0].name"),
        ([WEATHER, WEATHER], None, "session.tools[1].name"),
        ([{**WEATHER, "parameters": {"type": "string"}}], None, "session.tools[0].parameters"),
        (
            [{**WEATHER, "parameters": {"type": "object", "properties": 3}}],
            None,
            "session.tools[0].parameters",
        ),
        ([WEATHER], {"type": "function", "name": "get_time"}, "session.tool_choice.name"),
        ([], "required", "session.tool_choice"),
    ],
)
async def test_bad_tools_are_errors_naming_the_field(
    worker: Worker, venice: Any, tools: list[Any], choice: Any, param: str
) -> None:
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        await recv(connection)
        session: Any = {"type": "realtime", "tools": tools}
        if choice is not None:
            session["tool_choice"] = choice
        await connection.session.update(session=session)
        error = await until(connection, of_type("error", "session.updated"))
        assert error.type == "error" and error.error.param == param, error
        await connection.session.update(session={"type": "realtime", "tools": [WEATHER]})
        updated = await until(connection, of_type("session.updated", "error"))
        assert updated.type == "session.updated"
