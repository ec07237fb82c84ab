"""pipecat's `OpenAIRealtimeLLMService`, unchanged, with a registered function (its
own ToolsSchema, context and aggregators, as pipecat's examples build them): the fake
chat model calls the function, pipecat runs the handler and sends its result as a
`function_call_output`, and the worker speaks the answer that carries it; the call
and its output are stored with the turn."""

from __future__ import annotations

import asyncio
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import EndFrame, ErrorFrame, LLMRunFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.services.llm_service import FunctionCallParams
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.workers.runner import WorkerRunner

from tests.agents.conftest import Stack
from tests.agents.support import heard, seconds, until, words
from tests.agents.test_pipecat import Speaker

WEATHER = FunctionSchema(
    name="get_weather",
    description="The weather in a city, now.",
    properties={"city": {"type": "string"}},
    required=["city"],
)


async def test_a_registered_function_runs_end_to_end(stack: Stack) -> None:
    stack.scenario("tools", calls=[["get_weather", {"city": "Paris"}]])
    llm = OpenAIRealtimeLLMService(
        api_key="not-needed",
        base_url=stack.realtime_url,
        settings=OpenAIRealtimeLLMService.Settings(system_instruction="Be brief."),
    )
    asked: list[dict[str, Any]] = []

    async def get_weather(params: FunctionCallParams) -> None:
        asked.append(dict(params.arguments))
        await params.result_callback({"city": "Paris", "sky": "sunny"})

    llm.register_function("get_weather", get_weather)
    context = LLMContext(
        [{"role": "user", "content": "What is the weather in Paris?"}],
        ToolsSchema(standard_tools=[WEATHER]),
    )
    pair = LLMContextAggregatorPair(context)
    speaker = Speaker()
    worker = PipelineWorker(Pipeline([pair.user(), llm, speaker, pair.assistant()]))
    before = set(stack.sessions())
    errors: list[Any] = []

    @worker.event_handler("on_pipeline_error")  # type: ignore[untyped-decorator]
    async def on_error(_: Any, frame: ErrorFrame) -> None:
        errors.append(frame)

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    try:
        await worker.queue_frames([LLMRunFrame()])
        await until(lambda: bool(asked) and seconds(bytes(speaker.audio)) > 1.0, timeout=90)
        await asyncio.sleep(2)  # the rest of the answer
        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(running, 30)
    finally:
        if not running.done():
            await worker.cancel()
            await asyncio.gather(running, return_exceptions=True)
        stack.scenario("plain")
    assert errors == []
    assert asked == [{"city": "Paris"}]
    assert {"sunny", "paris"} <= set(words(await heard(stack.worker, bytes(speaker.audio))))
    (session_id,) = set(stack.sessions()) - before
    stored = stack.history(session_id)
    assert [role for role, _ in stored] == ["user", "assistant"]
    assert "sunny" in stored[1][1]
