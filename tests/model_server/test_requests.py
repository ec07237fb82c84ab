"""The synthesis requests the model server is sent, built in one place
(voice_contract.requests): every field of the .proto's messages is set from the
settings, the three calls agree, and each client (the worker's providers, the
asyncio client) passes every setting it has."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

from google.protobuf.message import Message

from shared.audio.formats import AudioFormat
from voice_contract.client import SpeechClient
from voice_contract.requests import SynthesisSettings, text_piece
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.wire import PB_FORMATS
from voice_worker.tts.base import SpeechOptions
from voice_worker.tts.model_server import synthesis_request
from voice_worker.tts.text_call import synthesis_settings

SETTINGS = SynthesisSettings(
    format=AudioFormat.OPUS,
    model="qwen",
    voice="vivian",
    language="de",
    sample_rate=16_000,
    speed=1.5,
    instructions="Calmly.",
    first_clause=True,
)


def set_fields(message: Message) -> set[str]:
    return {field.name for field, _ in message.ListFields()}


def all_fields(message: Message) -> set[str]:
    return {field.name for field in message.DESCRIPTOR.fields}


def test_every_field_of_the_messages_is_set_from_the_settings() -> None:
    request = SETTINGS.request("Hello there.")
    config = SETTINGS.text_stream_config()
    assert set_fields(request) == all_fields(request)
    assert set_fields(config) == all_fields(config)
    assert request.text == "Hello there."
    assert request.format == config.format == PB_FORMATS[AudioFormat.OPUS]
    assert config.first_clause


def test_the_calls_agree_on_their_settings() -> None:
    request = SETTINGS.request("Hi.")
    config = SETTINGS.text_stream_config()
    shared = (all_fields(request) & all_fields(config)) - {"text"}
    assert shared == all_fields(config) - {"first_clause"}
    for name in shared:
        assert getattr(request, name) == getattr(config, name), name


def test_empty_settings_leave_the_choices_to_the_server() -> None:
    assert set_fields(SynthesisSettings().request("Hi.")) <= {"text", "format"}
    assert set_fields(SynthesisSettings().text_stream_config()) <= {"format"}


def test_a_text_stream_opens_with_its_config_then_text() -> None:
    opening = SETTINGS.text_stream_opening()
    assert opening.WhichOneof("kind") == "config"
    assert opening.config == SETTINGS.text_stream_config()
    piece = text_piece("Hello, ")
    assert piece.WhichOneof("kind") == "text"
    assert piece.text == "Hello, "


def test_the_worker_passes_every_option() -> None:
    options = SpeechOptions(
        voice="vivian",
        model="qwen",
        format=AudioFormat.OPUS,
        speed=1.5,
        sample_rate=16_000,
        language="de",
        instructions="Calmly.",
        first_clause=True,
    )
    assert {f.name for f in dataclasses.fields(SpeechOptions)} == {
        f.name for f in dataclasses.fields(SynthesisSettings)
    }
    assert synthesis_settings(options) == SETTINGS
    assert synthesis_request("Hi.", options) == SETTINGS.request("Hi.")


def test_the_client_builds_the_same_request() -> None:
    options = dataclasses.asdict(SETTINGS)
    del options["format"]
    assert SpeechClient.request("Hi.", AudioFormat.OPUS, **options) == SETTINGS.request("Hi.")
    assert SpeechClient.request("Hi.") == pb.SynthesizeRequest(
        text="Hi.", format=PB_FORMATS[AudioFormat.WAV]
    )


class OpeningStub:
    """SynthesizeTextStream that keeps the first message it is sent, then ends."""

    def __init__(self) -> None:
        self.sent: list[pb.TextStreamRequest] = []

    def SynthesizeTextStream(
        self, requests: AsyncIterator[pb.TextStreamRequest], timeout: float | None
    ) -> Call:
        return Call(self, requests)


class Call:
    def __init__(self, stub: OpeningStub, requests: AsyncIterator[pb.TextStreamRequest]) -> None:
        self.stub, self.requests = stub, requests

    async def __aiter__(self) -> AsyncIterator[pb.AudioChunk]:
        self.stub.sent.append(await anext(aiter(self.requests)))
        yield pb.AudioChunk()

    def cancel(self) -> None:
        pass


async def test_the_client_opens_a_text_stream_with_every_setting() -> None:
    options = dataclasses.asdict(SETTINGS)
    del options["format"]

    async def texts() -> AsyncIterator[str]:
        yield "Hello."

    async with SpeechClient("127.0.0.1:9") as client:
        stub = OpeningStub()
        client.stub = stub  # type: ignore[assignment]
        chunks = [c async for c in client.stream_text(texts(), AudioFormat.OPUS, **options)]
    assert len(chunks) == 1
    assert stub.sent == [SETTINGS.text_stream_opening()]
