"""The one place a synthesis request is built: `SynthesisSettings` holds what a call
asks for besides its text (model, voice, format, ...) and makes the messages of the
three synthesis calls from it: a `SynthesizeRequest` (Synthesize, SynthesizeStream)
and the messages of SynthesizeTextStream (its config first, then text pieces). Every
client of the model server (the worker's providers, `SpeechClient`) builds them here,
so that a field added to the .proto is set everywhere or nowhere."""

from __future__ import annotations

from dataclasses import dataclass

from shared.audio.formats import AudioFormat
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.wire import PB_FORMATS


@dataclass(frozen=True, kw_only=True)
class SynthesisSettings:
    """A synthesis call's settings; the empty values (the proto's defaults) leave the
    choice to the server: its default model, the model's default voice and rate."""

    format: AudioFormat = AudioFormat.WAV
    model: str = ""
    voice: str = ""
    language: str = ""
    sample_rate: int = 0  # 0: the model's own rate
    speed: float = 0.0  # 0: 1.0
    instructions: str = ""
    #: text streams only (a SynthesizeRequest has no such field): the first clause
    #: spoken on its own as soon as it ends
    first_clause: bool = False

    def request(self, text: str) -> pb.SynthesizeRequest:
        """Synthesize's and SynthesizeStream's request for `text`."""
        return pb.SynthesizeRequest(
            text=text,
            model=self.model,
            voice=self.voice,
            language=self.language,
            format=PB_FORMATS[self.format],
            sample_rate=self.sample_rate,
            speed=self.speed,
            instructions=self.instructions,
        )

    def text_stream_config(self) -> pb.TextStreamConfig:
        return pb.TextStreamConfig(
            model=self.model,
            voice=self.voice,
            language=self.language,
            format=PB_FORMATS[self.format],
            sample_rate=self.sample_rate,
            speed=self.speed,
            instructions=self.instructions,
            first_clause=self.first_clause,
        )

    def text_stream_opening(self) -> pb.TextStreamRequest:
        """SynthesizeTextStream's first message: the config."""
        return pb.TextStreamRequest(config=self.text_stream_config())


def text_piece(text: str) -> pb.TextStreamRequest:
    """One of SynthesizeTextStream's messages after the config: a piece of the text."""
    return pb.TextStreamRequest(text=text)
