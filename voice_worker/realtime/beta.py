"""The beta protocol (`OpenAI-Beta: realtime=v1`), as a translation of the GA one: the
server works in GA terms only, and a beta client's events are converted to GA on the
way in, the server's events to beta on the way out, each checked by the SDK's beta
types (openai.types.beta.realtime).

What differs: beta `session.update` is flat (`voice`, `input_audio_format: "pcm16"`,
`turn_detection`, `modalities`, ...) where GA nests it under `session.audio`; beta
transcription sessions use `transcription_session.update` / `.updated`; the server's
names `response.audio.*`, `response.audio_transcript.*`, `response.text.*` and
`conversation.item.created` stand for GA's `response.output_audio.*`,
`response.output_audio_transcript.*`, `response.output_text.*` and
`conversation.item.added` (GA's `conversation.item.done` has no beta twin and is not
sent); items say `audio` / `text` where GA says `output_audio` / `output_text`. Beta's
`tool_choice` is a string: a function's name where GA says `{"type": "function",
"name"}`; function tools and the function call events are the same in both. GA's
MCP items and events have no beta twins: a beta client is not sent them."""

from __future__ import annotations

from typing import Any, get_args

from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from pydantic import BaseModel

FORMATS_IN = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
FORMATS_OUT = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
RENAMES = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
}
NOT_IN_BETA = frozenset({"conversation.item.done"})
BETA_ITEMS = frozenset({"message", "function_call", "function_call_output"})
SERVER_EVENTS: dict[str, type[BaseModel]] = {
    get_args(m.model_fields["type"].annotation)[0]: m
    for m in get_args(get_args(BetaServerEvent)[0])
}


# -- client events: beta in, GA out --------------------------------------------------


def client_to_ga(data: dict[str, Any]) -> dict[str, Any]:
    kind = data["type"]
    if kind == "session.update":
        return {**data, "session": _session_to_ga(data["session"])}
    if kind == "transcription_session.update":
        session = _transcription_to_ga(data["session"])
        return {**data, "type": "session.update", "session": session}
    if kind == "response.create" and data.get("response"):
        return {**data, "response": _response_to_ga(data["response"])}
    return data


def _audio_input(s: dict[str, Any]) -> dict[str, Any]:
    audio_in: dict[str, Any] = {}
    if "input_audio_format" in s:
        audio_in["format"] = FORMATS_IN.get(s["input_audio_format"])
    if "input_audio_transcription" in s:
        audio_in["transcription"] = s["input_audio_transcription"]
    if "input_audio_noise_reduction" in s:
        audio_in["noise_reduction"] = s["input_audio_noise_reduction"]
    if "turn_detection" in s:
        detection = s["turn_detection"]
        audio_in["turn_detection"] = (
            None if detection is None else {"type": "server_vad", **_present(detection)}
        )
    return audio_in


def _session_to_ga(s: dict[str, Any]) -> dict[str, Any]:
    ga: dict[str, Any] = {"type": "realtime"}
    if "tool_choice" in s:
        ga["tool_choice"] = _choice_to_ga(s["tool_choice"])
    for beta_name, ga_name in (
        ("instructions", "instructions"),
        ("max_response_output_tokens", "max_output_tokens"),
        ("tools", "tools"),
        ("tracing", "tracing"),
        ("model", "model"),
    ):
        if beta_name in s:
            ga[ga_name] = s[beta_name]
    if s.get("modalities") is not None:
        ga["output_modalities"] = ["audio"] if "audio" in s["modalities"] else ["text"]
    audio_out: dict[str, Any] = {}
    if "voice" in s:
        audio_out["voice"] = s["voice"]
    if "speed" in s:
        audio_out["speed"] = s["speed"]
    if "output_audio_format" in s:
        audio_out["format"] = FORMATS_IN.get(s["output_audio_format"])
    audio = {"input": _audio_input(s), "output": audio_out}
    ga["audio"] = {k: v for k, v in audio.items() if v}
    return ga


def _transcription_to_ga(s: dict[str, Any]) -> dict[str, Any]:
    ga: dict[str, Any] = {"type": "transcription", "audio": {"input": _audio_input(s)}}
    if "include" in s:
        ga["include"] = s["include"]
    return ga


def _response_to_ga(r: dict[str, Any]) -> dict[str, Any]:
    ga: dict[str, Any] = {
        k: r[k] for k in ("instructions", "metadata", "conversation", "input", "tools") if k in r
    }
    if "tool_choice" in r:
        ga["tool_choice"] = _choice_to_ga(r["tool_choice"])
    if r.get("modalities") is not None:
        ga["output_modalities"] = ["audio"] if "audio" in r["modalities"] else ["text"]
    if "max_response_output_tokens" in r:
        ga["max_output_tokens"] = r["max_response_output_tokens"]
    output: dict[str, Any] = {}
    if "voice" in r:
        output["voice"] = r["voice"]
    if "output_audio_format" in r:
        output["format"] = FORMATS_IN.get(r["output_audio_format"])
    if output:
        ga["audio"] = {"output": output}
    return ga


def _choice_to_ga(choice: Any) -> Any:
    """Beta's `tool_choice` string: a mode, or the name of the function to call."""
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        return {"type": "function", "name": choice}
    return choice


def _present(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# -- server events: GA in, beta out --------------------------------------------------


def server_from_ga(event: BaseModel) -> BaseModel | None:
    """The beta event of a GA server event (None: beta has no such event)."""
    data = event.model_dump(exclude_unset=True)
    kind = data["type"]
    if kind in NOT_IN_BETA or RENAMES.get(kind, kind) not in SERVER_EVENTS:
        return None  # beta has no such event (GA's MCP events)
    if (data.get("item") or {}).get("type", "message") not in BETA_ITEMS:
        return None  # nor such an item (GA's MCP items)
    data["type"] = RENAMES.get(kind, kind)
    if kind in ("session.created", "session.updated"):
        if data["session"].get("type") == "transcription":
            data["type"] = "transcription_session.updated"
            data["session"] = _transcription_session(data["session"])
        else:
            data["session"] = _session_from_ga(data["session"])
    if "item" in data:
        data["item"] = _item_from_ga(data["item"])
    if "response" in data:
        data["response"] = _response_from_ga(data["response"])
    return SERVER_EVENTS[data["type"]].model_validate(data)


def _format_name(fmt: dict[str, Any] | None) -> str | None:
    return FORMATS_OUT.get((fmt or {}).get("type", ""))


def _session_from_ga(s: dict[str, Any]) -> dict[str, Any]:
    audio = s.get("audio") or {}
    audio_in, audio_out = audio.get("input") or {}, audio.get("output") or {}
    beta = {
        "id": s.get("id"),
        "object": "realtime.session",
        "model": s.get("model"),
        "instructions": s.get("instructions"),
        "modalities": ["text", "audio"] if "audio" in s.get("output_modalities", []) else ["text"],
        "voice": audio_out.get("voice"),
        "speed": audio_out.get("speed"),
        "input_audio_format": _format_name(audio_in.get("format")),
        "output_audio_format": _format_name(audio_out.get("format")),
        "input_audio_transcription": audio_in.get("transcription"),
        "turn_detection": audio_in.get("turn_detection"),
        "tools": s.get("tools", []),
        "tool_choice": _choice_from_ga(s.get("tool_choice")),
    }
    return {k: v for k, v in beta.items() if v is not None or k == "turn_detection"}


def _choice_from_ga(choice: Any) -> Any:
    return choice.get("name") if isinstance(choice, dict) else choice


def _transcription_session(s: dict[str, Any]) -> dict[str, Any]:
    audio_in = (s.get("audio") or {}).get("input") or {}
    return {
        "client_secret": {"value": "", "expires_at": 0},  # beta's REST field; none here
        "input_audio_format": _format_name(audio_in.get("format")),
        "input_audio_transcription": audio_in.get("transcription"),
        "turn_detection": audio_in.get("turn_detection"),
        "modalities": ["text"],
    }


def _item_from_ga(item: dict[str, Any]) -> dict[str, Any]:
    if "content" not in item:  # a function call or its output: the same in beta
        return item
    parts = {"output_audio": "audio", "output_text": "text"}
    content = [
        {**part, "type": parts.get(part.get("type", ""), part.get("type"))}
        for part in item.get("content", [])
    ]
    return {**item, "content": content}


def _response_from_ga(r: dict[str, Any]) -> dict[str, Any]:
    output = (r.get("audio") or {}).get("output") or {}
    beta = {k: v for k, v in r.items() if k not in ("audio", "output_modalities", "output")}
    audio = "audio" in r.get("output_modalities", [])
    beta["modalities"] = ["text", "audio"] if audio else ["text"]
    beta["output"] = [_item_from_ga(item) for item in r.get("output", [])]
    if output.get("voice") is not None:
        beta["voice"] = output["voice"]
    if output.get("format") is not None:
        beta["output_audio_format"] = _format_name(output["format"])
    return beta
