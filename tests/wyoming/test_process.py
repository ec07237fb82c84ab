"""The `serve-wyoming` process itself: the optional zeroconf announcement, a Unix
socket, and a graceful stop on SIGTERM (idle connections closed, no new ones, the
request in progress finished, the announcement withdrawn, exit code 0). Mock STT, so
these processes start in a moment."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.client import AsyncUnixClient
from wyoming.error import Error
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from harness.processes import Process, free_port
from tests.wyoming.support import Audio, client, read_until, send_audio, wyoming_process

MOCK = {"VOICE_STT__PROVIDER": "mock"}


async def resolve(name: str) -> int | None:
    """The port announced under `name`, or None (a fresh resolver each time)."""
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    zeroconf = AsyncZeroconf()
    try:
        info = AsyncServiceInfo("_wyoming._tcp.local.", f"{name}._wyoming._tcp.local.")
        return info.port if await info.async_request(zeroconf.zeroconf, 3000) else None
    finally:
        await zeroconf.async_close()


async def test_sigterm_finishes_the_request_in_progress_and_withdraws_the_announcement(
    tmp_path: Path, model_server: Process
) -> None:
    name = f"voice-engine-test-{os.getpid()}"
    env = {**MOCK, "VOICE_WYOMING__ZEROCONF": "true", "VOICE_WYOMING__ZEROCONF_NAME": name}
    with wyoming_process(tmp_path, model_server.address, env) as wyoming:
        port = int(wyoming.address.split(":")[1])
        assert await resolve(name) == port
        async with client(wyoming) as busy, client(wyoming) as idle:
            await busy.write_event(SynthesizeStart().event())
            await busy.write_event(SynthesizeChunk(text="The first part is spoken. ").event())
            first = Audio(await read_until(busy, "audio-stop"))
            await idle.write_event(Describe().event())
            await read_until(idle, "info")

            wyoming.popen.send_signal(signal.SIGTERM)
            assert await idle.read_event() is None  # idle: closed at once
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", port)  # no new connections
            await busy.write_event(SynthesizeChunk(text="And then the second part.").event())
            await busy.write_event(SynthesizeStop().event())
            rest = Audio(await read_until(busy, "synthesize-stopped"))
            assert await busy.read_event() is None  # closed once answered
        assert wyoming.popen.wait(timeout=20) == 0
        assert first.seconds() > 0.5 and rest.types.count("audio-stop") == 1
        assert rest.seconds() > 0.5
        assert "wyoming server stopped" in wyoming.log()
    assert await resolve(name) is None


async def test_a_unix_socket(tmp_path: Path, model_server: Process) -> None:
    path = tmp_path / "wyoming.sock"
    with wyoming_process(tmp_path, model_server.address, MOCK, unix_socket=path) as wyoming:
        async with AsyncUnixClient(path, connect_timeout=10, read_timeout=30) as c:
            await c.write_event(Describe().event())
            (info,) = await read_until(c, "info")
        assert Info.from_event(info).asr[0].models[0].name == "mock"
        wyoming.popen.send_signal(signal.SIGTERM)
        assert wyoming.popen.wait(timeout=20) == 0
    assert not path.exists()  # removed at shutdown


async def test_without_a_model_server_describe_answers_and_speech_is_an_error_event(
    tmp_path: Path,
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"  # nothing listens there
    env = {**MOCK, "VOICE_WYOMING__CATALOGUE_WAIT_SECONDS": "1"}  # listens after a second
    with wyoming_process(tmp_path, nowhere, env) as wyoming:
        async with client(wyoming) as c:
            await c.write_event(Describe().event())
            (info,) = await read_until(c, "info")
            assert Info.from_event(info).tts[0].voices == []
            assert Info.from_event(info).asr[0].models[0].name == "mock"
            assert "no voice catalogue yet; listening anyway" in wyoming.log()
            await c.write_event(Synthesize(text="Hello there.").event())
            (error,) = await read_until(c, "audio-stop")
            assert Error.from_event(error).code == "upstream_unavailable"
            await c.write_event(SynthesizeStart().event())
            await c.write_event(SynthesizeChunk(text="Hello there. And more.").event())
            await c.write_event(SynthesizeStop().event())
            (error,) = await read_until(c, "synthesize-stopped")  # stops at the error
            assert Error.from_event(error).code == "upstream_unavailable"
            stopped = await read_until(c, "synthesize-stopped")
            assert [e.type for e in stopped] == ["synthesize-stopped"]
            # speech-to-text does not need the model server
            await c.write_event(Transcribe().event())
            await send_audio(c, b"\x00\x00" * 16_000, 16_000, 2, 1)
            events = await read_until(c, "transcript-stop")
            assert Transcript.from_event(events[-2]).text == "hello from the mock"
