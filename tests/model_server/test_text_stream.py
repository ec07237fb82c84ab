"""SynthesizeTextStream: text in pieces of any size, audio out as one valid file, each
sentence synthesized as soon as its end is certain; the first sentence of a reply
before later sentences of other replies; cancelling stops the rest; a bad first
message gets the usual status codes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import grpc
import pytest

from harness.processes import decode
from model_server.backends.base import FloatArray, SynthesisJob
from model_server.backends.piper import PiperBackend, bundled_voice_path
from shared.text import split_sentences
from tests.model_server.servers import Served, served
from voice_contract.errors import error_details
from voice_contract.v1 import tts_pb2 as pb

TEXT = (
    "Dr. Smith paid $3.50 on Jan. 5th for the tickets. Then he left, quite happy. "
    "Was it worth it? Yes!"
)
LONG = " ".join(
    f"Sentence {i} is long enough to keep the voice busy for a while." for i in range(12)
)


class RecordingPiper(PiperBackend):
    """The real voice, recording the text of every job it runs, in order."""

    def __init__(self) -> None:
        super().__init__(bundled_voice_path(), workers=1, solo_threads=1)
        self.texts: list[str] = []

    def stream(self, job: SynthesisJob) -> Iterator[FloatArray]:
        self.texts.append(job.text)
        return super().stream(job)

    def synthesize_batch(self, jobs: Sequence[SynthesisJob]) -> list[FloatArray]:
        self.texts += [job.text for job in jobs]
        return super().synthesize_batch(jobs)


def record(server: Served) -> RecordingPiper:
    entry = server.running.synthesizer.registry.entry("piper-joe")
    recording = RecordingPiper()
    recording.load()
    entry.backend = recording
    return recording


def config(**fields: Any) -> pb.TextStreamRequest:
    fields.setdefault("format", pb.AUDIO_FORMAT_WAV)
    return pb.TextStreamRequest(config=pb.TextStreamConfig(**fields))


async def requests(pieces: list[str], **fields: Any) -> AsyncIterator[pb.TextStreamRequest]:
    yield config(**fields)
    for piece in pieces:
        yield pb.TextStreamRequest(text=piece)


@pytest.mark.parametrize("size", [1, 7, len(TEXT)], ids=["one-char", "seven-chars", "whole"])
async def test_pieces_of_any_size_give_the_sentences_of_the_whole_text(size: int) -> None:
    async with served() as server:
        recording = record(server)
        pieces = [TEXT[i : i + size] for i in range(0, len(TEXT), size)]
        chunks = [c async for c in server.stub.SynthesizeTextStream(requests(pieces), timeout=60)]
    assert recording.texts == split_sentences(TEXT)  # none cut, none merged, in order
    assert [c.text for c in chunks if c.text] == split_sentences(TEXT)
    starts = [c.text_start_seconds for c in chunks if c.text]
    assert starts == sorted(starts) and starts[0] == 0.0
    assert [c.sequence for c in chunks] == list(range(len(chunks)))
    assert chunks[-1].final and not any(c.final for c in chunks[:-1])
    rate, seconds, channels = decode(b"".join(c.audio for c in chunks))  # one valid file
    assert (rate, channels) == (22050, 1)
    assert seconds == pytest.approx(chunks[-1].duration_seconds, abs=0.02)


async def test_a_sentence_is_spoken_before_the_text_is_complete() -> None:
    """The client has not finished writing, yet the first sentence's audio arrives."""
    async with served() as server:
        more = asyncio.Event()

        async def slow_writer() -> AsyncIterator[pb.TextStreamRequest]:
            yield config()
            yield pb.TextStreamRequest(text="The first sentence is here. And the sec")
            await more.wait()  # until the first audio has arrived
            yield pb.TextStreamRequest(text="ond one follows.")

        chunks = server.stub.SynthesizeTextStream(slow_writer(), timeout=60).__aiter__()
        accepted = await anext(chunks)
        assert (accepted.sequence, accepted.audio, accepted.model) == (0, b"", "piper-joe")
        first = await anext(chunks)
        assert first.text == "The first sentence is here."
        more.set()
        rest = [chunk async for chunk in chunks]
    texts = [c.text for c in [accepted, first, *rest] if c.text]
    assert texts == ["The first sentence is here.", "And the second one follows."]


async def test_the_first_sentence_of_a_reply_overtakes_later_sentences_of_another() -> None:
    """One slot (one Piper worker): reply B's first sentence runs before reply A's
    later sentences, although A asked first."""
    async with served(piper={"workers": 1, "solo_threads": 1}) as server:
        recording = record(server)
        a = server.stub.SynthesizeTextStream(requests([LONG]), timeout=120).__aiter__()
        for _ in range(3):  # accepted, then A's first two sentences sent
            await anext(a)  # (its third runs, its fourth waits)
        b = [c async for c in server.stub.SynthesizeTextStream(requests(["Quick one."]))]
        assert b[-1].final
        a_rest = [c async for c in a]
        assert a_rest[-1].final
    a_sentences = split_sentences(LONG)
    # B's first sentence took the slot before A's fourth, which had waited longer
    # (first in, first out would have run A's fourth first)
    order = recording.texts
    assert order.index("Quick one.") < order.index(a_sentences[3]), order[:6]
    assert order[:2] == a_sentences[:2]


async def test_cancelling_stops_what_is_not_yet_spoken() -> None:
    async with served() as server:
        recording = record(server)
        call = server.stub.SynthesizeTextStream(requests([LONG]), timeout=60)
        await call.read()
        call.cancel()
        await asyncio.sleep(1.5)
        ran = len(recording.texts)
        await asyncio.sleep(1.5)
        assert len(recording.texts) == ran, "synthesis went on after the cancel"
        assert ran <= 4, f"{ran} of 12 sentences synthesized for a cancelled stream"
        assert server.running.synthesizer.in_progress == 0


def text(piece: str) -> pb.TextStreamRequest:
    return pb.TextStreamRequest(text=piece)


BAD_STREAMS = {
    "no-config": ([text("No config first.")], "INVALID_ARGUMENT", "config", "REQUEST_MALFORMED"),
    "unknown-model": ([config(model="no"), text("Hi.")], "NOT_FOUND", "model", "MODEL_NOT_FOUND"),
    "unknown-voice": ([config(voice="bob"), text("Hi.")], "NOT_FOUND", "voice", "VOICE_NOT_FOUND"),
    "speed": ([config(speed=9), text("Hi.")], "INVALID_ARGUMENT", "speed", "SPEED_OUT_OF_RANGE"),
    "no-text": ([config()], "INVALID_ARGUMENT", "text", "TEXT_EMPTY"),
    "nothing-to-say": (
        [config(), text("!!! ...")],
        "INVALID_ARGUMENT",
        "text",
        "TEXT_NOT_SPEAKABLE",
    ),
    "control-character": (
        [config(), text("Fine. "), text("Bad\x00")],
        "INVALID_ARGUMENT",
        "text",
        "TEXT_CONTROL_CHARACTER",
    ),
    "two-configs": ([config(), config()], "INVALID_ARGUMENT", "config", "REQUEST_MALFORMED"),
    "too-long": ([config(), text("x" * 101)], "INVALID_ARGUMENT", "text", "TEXT_TOO_LONG"),
}


@pytest.mark.parametrize(
    ("messages", "code", "field", "reason"), list(BAD_STREAMS.values()), ids=list(BAD_STREAMS)
)
async def test_bad_streams_get_the_usual_status(
    messages: list[pb.TextStreamRequest], code: str, field: str, reason: str
) -> None:
    async with served(max_text_chars=100) as server:
        accepted = asyncio.Event()

        async def send() -> AsyncIterator[pb.TextStreamRequest]:
            yield messages[0]
            await accepted.wait()  # as the contract asks: text once the config is accepted
            for message in messages[1:]:
                yield message

        async def drain() -> None:
            async for _ in server.stub.SynthesizeTextStream(send(), timeout=30):
                accepted.set()

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await drain()
    assert caught.value.code().name == code, caught.value.details()
    details = error_details(caught.value.trailing_metadata())
    assert (details.field, details.reason) == (field, reason)
    if reason == "TEXT_CONTROL_CHARACTER":
        assert "position 9" in (caught.value.details() or "")
