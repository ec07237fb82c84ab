"""One connection's configuration (`RealtimeConfig`): what `session.update` may change,
checked where the SDK's types are silent (ranges, what this server can do), and the
session object `session.created` / `session.updated` report (the SDK's GA types).

What is honoured: `instructions` (the system persona instead of the stored session's
analyst role), `audio.output.voice` and `.speed`, `audio.input.turn_detection`
(server_vad with threshold, prefix_padding_ms, silence_duration_ms, create_response,
interrupt_response; semantic_vad with eagerness, create_response, interrupt_response:
the smart-turn model judges each pause, realtime/semantic.py; null: push-to-talk),
`audio.input.transcription.language` and `.prompt`.
Audio is `audio/pcm` (24 kHz), `audio/pcmu` or `audio/pcma` (G.711, 8 kHz), each way
on its own (realtime/formats.py); a format changed mid-session applies from the next
append (input: the buffer keeps what it holds) or the next response (output: the one
in progress keeps its format). `tools` of type function and `tool_choice`
(realtime/functions_config.py) are offered to the model; text-only output is refused
with an error naming the field; other fields of the types (tracing, noise_reduction,
the transcription model, ...) are accepted and have no effect."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from openai.types.realtime import (
    RealtimeSessionCreateRequest,
    RealtimeTranscriptionSessionCreateRequest,
)
from pydantic import BaseModel

from shared.limits import MAX_LANGUAGE_CHARS, MAX_NAME_CHARS, MAX_SPEED, MIN_SPEED
from shared.speakable import TextRejected, check_characters
from voice_worker.chat.tools import Tool, ToolChoice
from voice_worker.errors import InvalidRequest
from voice_worker.realtime import smart_turn
from voice_worker.realtime.formats import Format, format_object, parse_format
from voice_worker.realtime.functions_config import offered, wire_choice, wire_tools
from voice_worker.realtime.mcp_config import McpOffer, mcp_offer, wire_mcp
from voice_worker.realtime.vad import VadConfig

Kind = Literal["realtime", "transcription"]
MAX_PREFIX_MS, MAX_SILENCE_MS = 5000, 10_000


@dataclass(frozen=True)
class RealtimeConfig:
    kind: Kind
    model: str = ""
    instructions: str | None = None  # None: the stored session's persona
    voice: str = ""  # "": the stored session's voice
    speed: float | None = None
    turn_detection: VadConfig | None = field(default_factory=VadConfig)
    language: str | None = None  # None: the stored session's (transcription: any)
    prompt: str | None = None  # transcription sessions: a hint for the model
    input_format: Format = "audio/pcm"
    output_format: Format = "audio/pcm"
    tools: tuple[Tool, ...] = ()  # the client's functions
    tool_choice: ToolChoice = "auto"
    mcp: McpOffer = field(default_factory=McpOffer)  # MCP servers the worker calls


def _unsupported(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="unsupported_value")


def _name(value: Any, param: str) -> str:
    text = value if isinstance(value, str) else str(getattr(value, "id", ""))
    try:
        check_characters(text, param)
    except TextRejected as exc:
        raise InvalidRequest(exc.message, param=param, code="invalid_value") from None
    if len(text) > MAX_NAME_CHARS:
        raise InvalidRequest(f"{param} is longer than {MAX_NAME_CHARS}", param=param)
    return text


def turn_detection(value: Any, current: VadConfig | None, param: str) -> VadConfig | None:
    """The VAD of a `turn_detection` object (None: push-to-talk)."""
    if value is None:
        return None
    base = current or VadConfig()
    if value.type == "semantic_vad":
        if not smart_turn.available():
            raise _unsupported(
                f"{param}: semantic_vad needs the smart-turn model, which is not installed "
                "here (the pipecat-ai wheel: make install); use server_vad",
                f"{param}.type",
            )
        return replace(
            base,
            eagerness=value.eagerness or "auto",
            create_response=_bool(value.create_response, base.create_response),
            interrupt_response=_bool(value.interrupt_response, base.interrupt_response),
        )
    checks = (
        ("threshold", value.threshold, 0.0, 1.0),
        ("prefix_padding_ms", value.prefix_padding_ms, 0, MAX_PREFIX_MS),
        ("silence_duration_ms", value.silence_duration_ms, 0, MAX_SILENCE_MS),
    )
    for name, number, low, high in checks:
        if number is not None and not low <= number <= high:
            raise InvalidRequest(
                f"{param}.{name} is {number}; use {low} to {high}",
                param=f"{param}.{name}",
                code="invalid_value",
            )
    return VadConfig(
        threshold=base.threshold if value.threshold is None else value.threshold,
        prefix_padding_ms=_int(value.prefix_padding_ms, base.prefix_padding_ms),
        silence_duration_ms=_int(value.silence_duration_ms, base.silence_duration_ms),
        create_response=_bool(value.create_response, base.create_response),
        interrupt_response=_bool(value.interrupt_response, base.interrupt_response),
    )


def _int(value: int | None, default: int) -> int:
    return default if value is None else value


def _bool(value: bool | None, default: bool) -> bool:
    return default if value is None else value


def apply_update(
    config: RealtimeConfig,
    session: RealtimeSessionCreateRequest | RealtimeTranscriptionSessionCreateRequest,
    max_instructions: int,
    allowed_mcp_urls: Sequence[str] = (),
) -> RealtimeConfig:
    """`config` changed by a `session.update`'s session (only the fields it sets)."""
    if session.type != config.kind:
        raise InvalidRequest(
            f"this is a {config.kind} session; session.type cannot change",
            param="session.type",
            code="invalid_value",
        )
    sent = session.model_fields_set
    changes: dict[str, Any] = {}
    if isinstance(session, RealtimeSessionCreateRequest):
        if "instructions" in sent:
            instructions = session.instructions or ""
            if len(instructions) > max_instructions:
                raise InvalidRequest(
                    f"session.instructions has {len(instructions)} characters; "
                    f"at most {max_instructions}",
                    param="session.instructions",
                    code="string_above_max_length",
                )
            changes["instructions"] = instructions
        if session.output_modalities and "audio" not in session.output_modalities:
            raise _unsupported(
                "session.output_modalities: this server answers with audio and its transcript",
                "session.output_modalities",
            )
        if session.tools is not None or session.tool_choice is not None:
            tools, choice = offered(
                session.tools, session.tool_choice, config.tools, config.tool_choice, "session"
            )
            changes |= {"tools": tools, "tool_choice": choice}
        if session.tools is not None:
            changes["mcp"] = mcp_offer(session.tools, allowed_mcp_urls, "session.tools")
    audio = session.audio
    audio_in = audio.input if audio else None
    if audio_in is not None:
        if (fmt := parse_format(audio_in.format, "session.audio.input.format")) is not None:
            changes["input_format"] = fmt
        if "turn_detection" in audio_in.model_fields_set:
            param = "session.audio.input.turn_detection"
            changes["turn_detection"] = turn_detection(
                audio_in.turn_detection, config.turn_detection, param
            )
        if audio_in.transcription is not None:
            language = audio_in.transcription.language
            if language is not None:
                changes["language"] = _name(language, "session.audio.input.transcription.language")
                if len(changes["language"]) > MAX_LANGUAGE_CHARS:
                    raise InvalidRequest("the language is not a language tag")
            if audio_in.transcription.prompt is not None:
                changes["prompt"] = audio_in.transcription.prompt
    audio_out = getattr(audio, "output", None)
    if audio_out is not None:
        if (fmt := parse_format(audio_out.format, "session.audio.output.format")) is not None:
            changes["output_format"] = fmt
        if audio_out.voice is not None:
            changes["voice"] = _name(audio_out.voice, "session.audio.output.voice")
        if audio_out.speed is not None:
            if not MIN_SPEED <= audio_out.speed <= MAX_SPEED:
                raise InvalidRequest(
                    f"session.audio.output.speed is {audio_out.speed}; "
                    f"use {MIN_SPEED} to {MAX_SPEED}",
                    param="session.audio.output.speed",
                    code="invalid_value",
                )
            changes["speed"] = audio_out.speed
    return replace(config, **changes)


def _turn_detection_object(vad: VadConfig | None) -> dict[str, Any] | None:
    if vad is None:
        return None
    if vad.eagerness is not None:
        return {
            "type": "semantic_vad",
            "eagerness": vad.eagerness,
            "create_response": vad.create_response,
            "interrupt_response": vad.interrupt_response,
        }
    return {
        "type": "server_vad",
        "threshold": vad.threshold,
        "prefix_padding_ms": vad.prefix_padding_ms,
        "silence_duration_ms": vad.silence_duration_ms,
        "create_response": vad.create_response,
        "interrupt_response": vad.interrupt_response,
    }


def session_object(
    config: RealtimeConfig, session_id: str, instructions: str, voice: str
) -> BaseModel:
    """The session as `session.created` / `.updated` report it (the effective values:
    `instructions` and `voice` resolved from the stored session where not set)."""
    transcription: dict[str, Any] = {"model": "whisper-1"}
    if config.language:
        transcription["language"] = config.language
    audio_in = {
        "format": format_object(config.input_format),
        "transcription": transcription,
        "turn_detection": _turn_detection_object(config.turn_detection),
    }
    if config.kind == "transcription":
        return RealtimeTranscriptionSessionCreateRequest.model_validate(
            {"type": "transcription", "id": session_id, "audio": {"input": audio_in}}
        )
    audio_out: dict[str, Any] = {
        "format": format_object(config.output_format),
        "voice": voice or "default",
    }
    if config.speed is not None:
        audio_out["speed"] = config.speed
    return RealtimeSessionCreateRequest.model_validate(
        {
            "type": "realtime",
            "id": session_id,
            "object": "realtime.session",
            "model": config.model,
            "output_modalities": ["audio"],
            "instructions": instructions,
            "audio": {"input": audio_in, "output": audio_out},
            "tools": [*wire_tools(config.tools), *wire_mcp(config.mcp)],
            "tool_choice": wire_choice(config.tool_choice),
        }
    )
