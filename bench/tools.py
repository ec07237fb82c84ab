"""What the worker's tool loop adds to a turn: text turns through the engine with the
chat on the fake upstream (OpenAI's streaming contract, in-process), the Piper voice
through the model server, and a real MCP server (the `mcp` package, streamable HTTP on
127.0.0.1). The same turns without tools, and with the model calling one MCP tool and
answering with its output (two chat requests and one call): p50 and p95 over 20 turns
of the stages (from the turn's start) and of the tool time alone. Then the client's
function loop in a realtime session (bench/tools_realtime.py)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from pydantic import SecretStr

from bench.chat import stats
from bench.report import print_table, write_result
from bench.tools_realtime import realtime_turns
from harness.fake_venice import KEY, FakeVenice
from harness.processes import model_server_process
from harness.servers import ThreadServer
from shared.cache.memory import MemoryCache
from voice_worker.auth.principal import ANONYMOUS
from voice_worker.chat.settings import ChatSettings, VeniceSettings
from voice_worker.chat.venice import VeniceChat
from voice_worker.conversation.adapters import TurnSpeech
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.speech.cached_speech import CachedSpeech
from voice_worker.store.base import SessionSettings
from voice_worker.store.sql import open_store
from voice_worker.tools.settings import McpServerSettings, ToolsSettings
from voice_worker.tools.toolbox import ToolBox
from voice_worker.tts.model_server import ModelServerTTS

TURNS = 20
STAGES = ("chat_first_token", "chat", "first_audio", "total")


def facts() -> MCPServer:
    server = MCPServer("facts")

    @server.tool()
    def weather(city: str) -> str:
        """The weather in a city, now."""
        return f"Sunny in {city}, 21 degrees."

    return server


async def turns(model_server: str, venice_url: str, mcp_url: str, directory: Path) -> list[Any]:
    store = await open_store(f"sqlite:///{directory}/bench.db")
    venice = VeniceSettings(api_key=SecretStr(KEY), base_url=venice_url)
    settings = ChatSettings(provider="venice", venice=venice, max_retries=0)
    chat, tts = VeniceChat(settings), ModelServerTTS(model_server)
    speech = TurnSpeech(CachedSpeech(tts, MemoryCache()))
    servers = [McpServerSettings(label="facts", url=mcp_url)]
    tools = ToolBox.from_settings(ToolsSettings(mcp_servers=servers))
    rows: list[dict[str, Any]] = []
    for label, box in (("no tools", None), ("one MCP call", tools)):
        engine = VoiceChatEngine(store, chat, speech, settings, tools=box)
        session = await store.create_session(SessionSettings())
        await engine.process_text_only(session.id, "Warm up.", ANONYMOUS)  # lists the tools
        timings: dict[str, list[float]] = {stage: [] for stage in (*STAGES, "tools")}
        for index in range(TURNS):
            turn = await engine.process_text_only(session.id, f"Question {index}?", ANONYMOUS)
            for stage, values in timings.items():
                if stage in turn.timings:
                    values.append(turn.timings[stage])
        rows += [stats(f"{label}: {s}", v) for s, v in timings.items() if v]
    await tts.close()
    await chat.close()
    await store.close()
    return rows


def main() -> None:
    fake = FakeVenice()
    fake.scenario, fake.tool_calls = "tools", [("weather", {"city": "Paris"})]
    with (
        tempfile.TemporaryDirectory() as tmp,
        ThreadServer(fake.app) as upstream,
        ThreadServer(facts().streamable_http_app()) as mcp,
        model_server_process(Path(tmp)) as server,
    ):
        rows = asyncio.run(
            turns(server.address, f"{upstream.url}/api/v1", f"{mcp.url}/mcp", Path(tmp))
        )
        realtime = asyncio.run(realtime_turns(server.address, Path(tmp), TURNS))
    print_table("text turns with and without a tool call (fake upstream, MCP, Piper)", rows)
    print_table("realtime: a client's function call (fake upstream, Piper, the SDK)", realtime)
    write_result("tools", {"rows": rows, "realtime": realtime, "turns": TURNS})


if __name__ == "__main__":
    main()
