"""pipecat's `OpenAIRealtimeLLMService`, unchanged, in a Pipeline (the microphone's
frames queued into it, the reply's audio read at its end; the server's VAD takes the
turns) against the worker: a spoken turn, a barge-in (the worker cancels on speech;
pipecat truncates the item it was playing where its wall clock says playback was),
and the turn after it, without an error (pipecat ends the session on any `error` but
the races it names)."""

from __future__ import annotations

import asyncio
from typing import Any

from loguru import logger
from pipecat.frames.frames import EndFrame, ErrorFrame, InputAudioRawFrame, TTSAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.workers.runner import WorkerRunner

from tests.agents.conftest import Stack
from tests.agents.support import RATE, Microphone, heard, seconds, until, words

QUESTION = "What time is it in Tokyo right now?"


class Speaker(FrameProcessor):  # type: ignore[misc]  # pipecat is untyped here
    """The end of the pipeline: the reply's audio, per response, as a player gets it."""

    def __init__(self) -> None:
        super().__init__()
        self.audio = bytearray()

    async def process_frame(self, frame: Any, direction: Any) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            self.audio += frame.audio
        await self.push_frame(frame, direction)


async def test_a_conversation_with_a_barge_in(stack: Stack) -> None:
    stack.scenario("plain")
    llm = OpenAIRealtimeLLMService(
        api_key="not-needed",
        base_url=stack.realtime_url,
        settings=OpenAIRealtimeLLMService.Settings(system_instruction="Be brief."),
    )
    speaker = Speaker()
    worker = PipelineWorker(Pipeline([llm, speaker]))
    before = set(stack.sessions())
    errors: list[Any] = []
    items: dict[str, Any] = {}
    logged: list[str] = []
    sink = logger.add(lambda m: logged.append(m.record["message"]), level="DEBUG")

    @worker.event_handler("on_pipeline_error")  # type: ignore[untyped-decorator]
    async def on_error(_: Any, frame: ErrorFrame) -> None:
        errors.append(frame)

    @llm.event_handler("on_conversation_item_updated")  # type: ignore[untyped-decorator]
    async def on_item(_: Any, item_id: str, item: Any) -> None:
        if item is not None:
            items[item_id] = item

    async def send(chunk: bytes) -> None:
        await worker.queue_frame(InputAudioRawFrame(audio=chunk, sample_rate=RATE, num_channels=1))

    def replies() -> list[Any]:
        return [i for i in items.values() if i.role == "assistant" and i.status != "in_progress"]

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    try:
        await until(lambda: llm._api_session_ready)
        async with Microphone(send) as microphone:
            await microphone.say(stack.pcm("question"))
            await until(lambda: len(replies()) == 1)
            first = bytes(speaker.audio)
            assert seconds(first) > 0.5
            assert words(await heard(stack.worker, first)) == words("Hello from Venice.")
            await asyncio.sleep(seconds(first))  # the user hears it out (pipecat's clock)
            stack.scenario("long")
            mark = len(speaker.audio)
            await microphone.say(stack.pcm("question"))
            await until(lambda: len(speaker.audio) - mark > RATE * 2)  # a second of the reply
            stack.scenario("plain")
            await microphone.say(stack.pcm("jfk")[: RATE * 2 * 3])
            await until(lambda: len(replies()) == 3, timeout=90)
        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(running, 30)
    finally:
        logger.remove(sink)
        if not running.done():
            await worker.cancel()
            await asyncio.gather(running, return_exceptions=True)
    assert errors == []
    assert not [m for m in logged if m.startswith("Error")]
    first_reply, interrupted, last = replies()
    assert first_reply.status == "completed" and last.status == "completed"
    assert interrupted.status == "incomplete"
    said = interrupted.content[0].transcript  # what had gone out when it was cancelled
    (session_id,) = set(stack.sessions()) - before
    stored = stack.history(session_id)
    assert [role for role, _ in stored] == ["user", "assistant"] * 3
    assert words(stored[0][1]) == words(QUESTION) and stored[1][1] == "Hello from Venice."
    # pipecat's truncation: the reply stored as far as its wall clock says it was heard
    assert said.startswith(stored[3][1]) and len(stored[3][1]) < len(said), (stored, said)
    assert "fellow" in words(stored[4][1]) and stored[5][1] == "Hello from Venice."
