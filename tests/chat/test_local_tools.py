"""The embedded SmolLM2-135M with a forced tool call: `tool_choice` naming the function
makes llama.cpp write under a grammar of its JSON-schema parameters, so the arguments
are valid JSON matching them, whatever the small model would have chosen. (It chooses
tools badly on its own: with `auto` it answers without them.)"""

from __future__ import annotations

import json

import jsonschema

from voice_worker.chat.base import ChatEnd, ChatMessage, ChatOptions, TextDelta, ToolCall
from voice_worker.chat.local import LocalChat
from voice_worker.chat.tools import NamedTool, SupportsTools, Tool, ToolOffer

BOOKING = Tool(
    "book_table",
    "Book a table at a restaurant.",
    {
        "type": "object",
        "properties": {
            "restaurant": {"type": "string", "maxLength": 40},
            "people": {"type": "integer", "minimum": 1, "maximum": 12},
            "time": {"type": "string", "enum": ["18:00", "19:00", "20:00"]},
        },
        "required": ["restaurant", "people", "time"],
        "additionalProperties": False,
    },
)
ASK = [
    ChatMessage("system", "You are a helpful assistant."),
    ChatMessage("user", "Book a table for four at Luigi's at eight in the evening."),
]


async def test_a_forced_call_is_valid_json_matching_the_schema() -> None:
    chat = LocalChat()
    assert isinstance(chat, SupportsTools)
    try:
        offer = ToolOffer((BOOKING,), NamedTool("book_table"))
        options = ChatOptions(max_tokens=96, temperature=0.0)
        events = [e async for e in chat.stream_tools(ASK, options, offer)]
        calls = [e for e in events if isinstance(e, ToolCall)]
        assert len(calls) == 1 and calls[0].name == "book_table"
        assert calls[0].id.startswith("call_")
        arguments = json.loads(calls[0].arguments)
        jsonschema.validate(arguments, BOOKING.parameters)
        assert not [e for e in events if isinstance(e, TextDelta)]  # a call, not words
        assert isinstance(events[-1], ChatEnd) and events[-1].usage["completion_tokens"] > 0

        # with `auto` the small model answers in words, the call's output read back
        answered = [
            *ASK,
            ChatMessage("assistant", "", tuple(calls)),
            ChatMessage("tool", "Booked: Luigi's, 20:00, 4 people.", tool_call_id=calls[0].id),
        ]
        options = ChatOptions(max_tokens=24, temperature=0.0)
        events = [e async for e in chat.stream_tools(answered, options, ToolOffer((BOOKING,)))]
        assert not [e for e in events if isinstance(e, ToolCall)]
        assert "".join(e.text for e in events if isinstance(e, TextDelta)).strip()
    finally:
        await chat.close()
