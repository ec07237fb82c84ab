"""What the client's function loop adds to a realtime turn: a worker on uvicorn (the
fake upstream as the chat model, Piper through the model server) and the official
`openai` SDK's realtime client. Per turn, typed: `response.create` to the call's
`response.function_call_arguments.done` (the first chat request), then the client's
`function_call_output` + `response.create` to the answer's first audio (the second chat
request and the first sentence's synthesis); against a plain turn, `response.create` to
its first audio. p50 and p95 over the turns."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI

from bench.chat import stats
from harness.fake_venice import KEY, FakeVenice
from harness.servers import ThreadServer
from voice_worker.app import create_app
from voice_worker.settings import Settings

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city, now.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def ask(text: str) -> Any:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def until(connection: Any, kind: str) -> Any:
    while (event := await connection.recv()).type != kind:
        if event.type == "error":
            raise RuntimeError(event.error.message)
    return event


async def first_audio(connection: Any, start: float | None = None) -> float:
    """`response.create`, then the seconds to its first audio (from `start`: now)."""
    start = time.monotonic() if start is None else start
    await connection.response.create()
    await until(connection, "response.output_audio.delta")
    seconds = time.monotonic() - start
    await until(connection, "response.done")
    return seconds


async def measure(url: str, fake: FakeVenice, turns: int) -> list[dict[str, Any]]:
    client = AsyncOpenAI(
        base_url=f"{url}/v1",
        websocket_base_url=f"{url.replace('http://', 'ws://')}/v1",
        api_key="not-needed",
    )
    plain: list[float] = []
    called: list[float] = []
    answered: list[float] = []
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await until(connection, "session.created")
        fake.scenario = "plain"
        for index in range(turns + 1):  # the first warms up
            await connection.conversation.item.create(item=ask(f"Hello {index}?"))
            seconds = await first_audio(connection)
            plain += [seconds] if index else []
        fake.scenario = "tools"
        session: Any = {"type": "realtime", "tools": [WEATHER], "tool_choice": "auto"}
        await connection.session.update(session=session)
        await until(connection, "session.updated")
        for index in range(turns + 1):
            await connection.conversation.item.create(item=ask(f"Weather {index}?"))
            start = time.monotonic()
            await connection.response.create()
            done = await until(connection, "response.function_call_arguments.done")
            seconds = time.monotonic() - start
            await until(connection, "response.done")
            output: Any = {
                "type": "function_call_output",
                "call_id": done.call_id,
                "output": "Sunny.",
            }
            start = time.monotonic()
            await connection.conversation.item.create(item=output)
            answer = await first_audio(connection, start)
            if index:
                called.append(seconds)
                answered.append(answer)
    return [
        stats("plain turn: response.create -> first audio", plain),
        stats("function: response.create -> arguments.done", called),
        stats("function: output + response.create -> first audio", answered),
    ]


async def realtime_turns(model_server: str, directory: Path, turns: int) -> list[dict[str, Any]]:
    fake = FakeVenice()
    fake.tool_calls = [("get_weather", {"city": "Paris"})]
    with ThreadServer(fake.app) as upstream:
        settings = Settings(
            stt={"provider": "local"},
            tts={"model_server": model_server, "max_retries": 0},
            chat={
                "provider": "venice",
                "max_retries": 0,
                "venice": {"api_key": KEY, "base_url": f"{upstream.url}/api/v1"},
            },
            response_cache={"enabled": False},
            database={"tts_models_sync_seconds": 0},
            data_dir=directory / "realtime",
            access_log=False,
        )
        with ThreadServer(create_app(settings)) as worker:
            return await measure(worker.url, fake, turns)
