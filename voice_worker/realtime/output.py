"""The events of a response's output: one assistant message (output_index 0 unless
tool calls came before it) with one
audio part (content_index 0), opened once the turn has begun and closed when the
response ends, its transcript then the words that went out. Its audio goes out in the
format the response began with (`encoder`: pcm16 as it is, or G.711)."""

from __future__ import annotations

from dataclasses import dataclass, field

from openai.types.realtime import (
    RealtimeConversationItemAssistantMessage,
    ResponseAudioDeltaEvent,
    ResponseAudioDoneEvent,
    ResponseAudioTranscriptDeltaEvent,
    ResponseAudioTranscriptDoneEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
)
from pydantic import BaseModel

from voice_worker.realtime import events as ev
from voice_worker.realtime.audio import encode_audio
from voice_worker.realtime.formats import OutputEncoder


@dataclass(frozen=True)
class Output:
    """A response's output item: the ids its events carry."""

    response_id: str
    item_id: str
    previous_item: str | None  # the conversation item before it
    encoder: OutputEncoder = field(default_factory=lambda: OutputEncoder("audio/pcm"))
    index: int = 0  # its output_index (after the calls made before it spoke)

    def _item_ids(self) -> dict[str, object]:
        return {"response_id": self.response_id, "output_index": self.index}

    def _part_ids(self) -> dict[str, object]:
        return {
            "response_id": self.response_id,
            "item_id": self.item_id,
            "output_index": self.index,
            "content_index": 0,
        }

    def opened(self) -> list[BaseModel]:
        """`response.output_item.added`, `conversation.item.added`, `.content_part.added`."""
        item = ev.assistant_item(self.item_id, "in_progress")
        part = {"type": "audio", "transcript": ""}
        return [
            ev.event(ResponseOutputItemAddedEvent, item=item, **self._item_ids()),
            ev.item_added(item, self.previous_item),
            ev.event(ResponseContentPartAddedEvent, part=part, **self._part_ids()),
        ]

    def text_delta(self, text: str) -> BaseModel:
        return ev.event(ResponseAudioTranscriptDeltaEvent, delta=text, **self._part_ids())

    def audio_delta(self, pcm: bytes) -> BaseModel:
        """A delta of the response's pcm16 24 kHz audio, in its output format."""
        delta = encode_audio(self.encoder.encode(pcm))
        return ev.event(ResponseAudioDeltaEvent, delta=delta, **self._part_ids())

    def closed(
        self, status: ev.Status, transcript: str
    ) -> tuple[RealtimeConversationItemAssistantMessage, list[BaseModel]]:
        """The item as it ended, and the `.done` of its audio, transcript, part and item."""
        item = ev.assistant_item(self.item_id, status, transcript)
        ids = self._part_ids()
        part = {"type": "audio", "transcript": transcript}
        return item, [
            ev.event(ResponseAudioDoneEvent, **ids),
            ev.event(ResponseAudioTranscriptDoneEvent, transcript=transcript, **ids),
            ev.event(ResponseContentPartDoneEvent, part=part, **ids),
            ev.event(ResponseOutputItemDoneEvent, item=item, **self._item_ids()),
            ev.item_done(item, self.previous_item),
        ]
