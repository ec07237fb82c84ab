"""What a response is asked to be: a realtime turn's options (pcm16 at 24 kHz inside;
the session's voice and speed; the instructions `response.create`
gives, else the session's), the format its audio goes out in (`response.audio.output
.format`, else the session's) and the metadata its `response` object carries back. What
a response here cannot do (an input of its own, or out of the conversation) is
refused, naming the field. The client's functions and `tool_choice` are the
session's, or the response's own (`response.tools`, `.tool_choice`)."""

from __future__ import annotations

from dataclasses import dataclass

from openai.types.realtime.realtime_response_create_params import RealtimeResponseCreateParams

from shared.audio.formats import AudioFormat
from voice_worker.chat.tools import ToolOffer
from voice_worker.conversation.turn import TurnOptions
from voice_worker.errors import InvalidRequest
from voice_worker.realtime.audio import RATE
from voice_worker.realtime.config import RealtimeConfig
from voice_worker.realtime.formats import Format, parse_format
from voice_worker.realtime.functions_config import offered
from voice_worker.tools.loop import ToolRunner


@dataclass(frozen=True)
class ResponseRequest:
    options: TurnOptions
    metadata: dict[str, str] | None = None
    output_format: Format = "audio/pcm"


def response_request(
    config: RealtimeConfig,
    params: RealtimeResponseCreateParams | None = None,
    tools: ToolRunner | None = None,
) -> ResponseRequest:
    """The response `response.create` asks for with `params` (None: the session's own,
    as after a VAD turn); `tools`: the session's MCP servers (None: the worker's)."""
    instructions, metadata, output_format = None, None, config.output_format
    functions, choice = config.tools, config.tool_choice
    if params is not None:
        if params.input:
            raise InvalidRequest(
                "response.input is not supported: a response answers the conversation",
                param="response.input",
                code="unsupported_value",
            )
        if params.conversation == "none":
            raise InvalidRequest(
                "out-of-band responses (conversation none) are not supported",
                param="response.conversation",
                code="unsupported_value",
            )
        instructions, metadata = params.instructions, params.metadata
        audio_out = params.audio.output if params.audio else None
        param = "response.audio.output.format"
        if audio_out is not None and (fmt := parse_format(audio_out.format, param)):
            output_format = fmt
        if params.tools is not None or params.tool_choice is not None:
            functions, choice = offered(
                params.tools, params.tool_choice, functions, choice, "response"
            )
    options = TurnOptions(
        instructions=instructions or config.instructions,
        audio_format=AudioFormat.PCM,
        sample_rate=RATE,
        voice=config.voice or None,
        speed=config.speed,
        functions=ToolOffer(functions, choice) if functions else None,
        tools=tools,
    )
    return ResponseRequest(options, metadata, output_format)
