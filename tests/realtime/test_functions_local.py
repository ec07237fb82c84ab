"""The client's functions with the embedded SmolLM2-135M as the chat model: a session
whose `tool_choice` names the function makes the model write the call under a grammar
of its parameters (valid JSON matching them, chat/local.py), delivered as a
`function_call` item with the official SDK; the client's output then gets a spoken
answer (the small model answers in words once `tool_choice` is back to auto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from harness.processes import Process
from harness.servers import ThreadServer
from tests.realtime.conftest import Worker
from tests.realtime.support import of_type, recv, until
from voice_worker.app import create_app
from voice_worker.settings import Settings

pytestmark = pytest.mark.slow
BOOKING: Any = {
    "type": "function",
    "name": "book_table",
    "description": "Book a table at a restaurant.",
    "parameters": {
        "type": "object",
        "properties": {
            "restaurant": {"type": "string", "maxLength": 40},
            "people": {"type": "integer", "minimum": 1, "maximum": 12},
            "time": {"type": "string", "enum": ["18:00", "19:00", "20:00"]},
        },
        "required": ["restaurant", "people", "time"],
        "additionalProperties": False,
    },
}


@pytest.fixture(scope="module")
def local_worker(
    model_server: Process, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    settings = Settings(
        stt={"provider": "local"},
        tts={"model_server": model_server.address, "max_retries": 0},
        chat={"provider": "local", "max_tokens": 64, "temperature": 0.0},
        response_cache={"enabled": False},
        database={"tts_models_sync_seconds": 0},
        data_dir=tmp_path_factory.mktemp("realtime-local"),
        access_log=False,
    )
    with ThreadServer(create_app(settings)) as server:
        yield Worker(server.url, None)  # type: ignore[arg-type]


async def test_the_local_model_calls_the_function_named(local_worker: Worker) -> None:
    async with local_worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        await recv(connection)
        session: Any = {
            "type": "realtime",
            "tools": [BOOKING],
            "tool_choice": {"type": "function", "name": "book_table"},
        }
        await connection.session.update(session=session)
        await until(connection, of_type("session.updated"))
        ask: Any = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "A table for four at Luigi's at eight."}],
        }
        await connection.conversation.item.create(item=ask)
        await connection.response.create()
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen, timeout=120)
        assert [o.type for o in done.response.output] == ["function_call"]
        call = done.response.output[0]
        assert call.name == "book_table"
        jsonschema.validate(json.loads(call.arguments), BOOKING["parameters"])
        finished = next(e for e in seen if e.type == "response.function_call_arguments.done")
        assert finished.arguments == call.arguments

        output: Any = {
            "type": "function_call_output",
            "call_id": call.call_id,
            "output": "Booked: Luigi's, 20:00, 4 people.",
        }
        await connection.conversation.item.create(item=output)
        await connection.response.create(response={"tool_choice": "auto"})
        answer: list[Any] = []
        done = await until(connection, of_type("response.done"), answer, timeout=120)
        assert done.response.status == "completed", done.response.status_details
        assert [o.type for o in done.response.output] == ["message"]
        spoken = [e for e in answer if e.type == "response.output_audio.delta"]
        transcript = next(e for e in answer if e.type == "response.output_audio_transcript.done")
        assert transcript.transcript.strip() and spoken
