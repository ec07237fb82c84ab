"""The realtime conversation's pure parts, without a server: what `conversation.item
.create` may add, what a response answers, `conversation.item.truncate` against the
item, what `response.create` asks for, and the events of a response's output item."""

from __future__ import annotations

import pytest
from openai.types.realtime import (
    ConversationItemCreateEvent,
    ConversationItemTruncateEvent,
    RealtimeConversationItemAssistantMessage,
    RealtimeConversationItemUserMessage,
)
from openai.types.realtime.realtime_response_create_params import RealtimeResponseCreateParams

from shared.audio.formats import AudioFormat
from voice_worker.conversation.heard import SpokenReply
from voice_worker.conversation.turn import Heard
from voice_worker.errors import InvalidRequest
from voice_worker.realtime.config import RealtimeConfig
from voice_worker.realtime.items import Reply, typed_text, user_words
from voice_worker.realtime.output import Output
from voice_worker.realtime.response_request import response_request
from voice_worker.realtime.truncation import cut, truncated
from voice_worker.stt.base import Transcript


def user_message(*content: dict[str, object]) -> RealtimeConversationItemUserMessage:
    return RealtimeConversationItemUserMessage.model_validate(
        {"type": "message", "role": "user", "content": list(content)}
    )


def refusal(call: object, *args: object) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


def test_typed_text_joins_the_input_text_parts() -> None:
    item = user_message({"type": "input_text", "text": "hello"}, {"text": "there"})
    assert typed_text(item) == "hello there"


def test_typed_text_refuses_other_parts_and_other_items() -> None:
    audio = user_message({"type": "input_text", "text": "hi"}, {"type": "input_audio"})
    error = refusal(typed_text, audio)
    assert (error.param, error.code) == ("item.content", "unsupported_value")
    assistant = RealtimeConversationItemAssistantMessage.model_validate(
        {"type": "message", "role": "assistant", "content": []}
    )
    error = refusal(typed_text, assistant)
    assert (error.param, error.code) == ("item.role", "unsupported_value")


def test_an_items_type_is_read_from_the_event_as_the_sdk_parses_it() -> None:
    event = ConversationItemCreateEvent.model_validate(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text"}]},
        }
    )
    assert typed_text(event.item) == ""  # left to the engine's check (empty text)


def heard(text: str, duration: float, seconds: float) -> Heard:
    return Heard(Transcript(text, duration=duration), seconds)


def test_user_words_typed_only_are_text() -> None:
    assert user_words([("one", None), ("", None), ("two", None)]) == "one two"


def test_user_words_with_speech_are_heard_with_the_spoken_items_summed() -> None:
    spoken = heard("two", 1.5, 0.25)
    silent = heard("", 3.0, 0.5)  # heard nothing: left out, its audio too
    said = user_words([("one", None), ("two", spoken), ("", silent), ("three", heard("x", 2, 1))])
    assert isinstance(said, Heard)
    assert said.transcript.text == "one two three"
    assert said.transcript.duration == pytest.approx(3.5)
    assert said.seconds == pytest.approx(1.25)


def test_user_words_without_words_are_refused() -> None:
    error = refusal(user_words, [("", None), ("", heard("", 1, 1))])
    assert error.code == "no_user_input"


def spoken(*sentences: tuple[str, float]) -> SpokenReply:
    """A reply whose sentences went out one after the other, each `seconds` long."""
    reply = SpokenReply()
    for text, seconds in sentences:
        reply.add(seconds, text, reply.seconds)
    return reply


def truncate(
    item_id: str, audio_end_ms: int, content_index: int = 0
) -> ConversationItemTruncateEvent:
    return ConversationItemTruncateEvent(
        type="conversation.item.truncate",
        item_id=item_id,
        content_index=content_index,
        audio_end_ms=audio_end_ms,
    )


def test_cut_is_the_reply_as_far_as_it_was_heard() -> None:
    reply = Reply("item_a", spoken(("First one.", 1.0), ("Second one.", 1.0)), 7)
    assert cut(reply, truncate("item_a", 1000)).heard == "First one."
    whole = cut(reply, truncate("item_a", 2000))
    assert (whole.heard, whole.seconds, whole.message_id) == ("First one. Second one.", 2.0, 7)
    assert cut(reply, truncate("item_a", 0)).heard == ""


def test_cut_refuses_what_does_not_fit_the_item() -> None:
    reply = Reply("item_a", spoken(("Hi.", 1.0001)), None)
    error = refusal(cut, None, truncate("item_b", 10))
    assert (error.param, error.code) == ("item_id", "invalid_value")
    assert refusal(cut, reply, truncate("item_a", 10, content_index=1)).param == "content_index"
    error = refusal(cut, reply, truncate("item_a", 1002))  # the audio is 1001 ms, rounded up
    assert (error.param, error.code) == ("audio_end_ms", "invalid_value")
    assert cut(reply, truncate("item_a", 1001)).heard == "Hi."


def test_truncated_answers_with_the_items_id_and_where_it_stopped() -> None:
    event = truncated(truncate("item_a", 640))
    assert event.model_dump(exclude={"event_id"}) == {
        "type": "conversation.item.truncated",
        "item_id": "item_a",
        "content_index": 0,
        "audio_end_ms": 640,
    }


def test_a_response_request_takes_the_sessions_voice_and_its_own_instructions() -> None:
    config = RealtimeConfig("realtime", voice="alba", speed=1.25, instructions="Be brief.")
    own = response_request(config)
    assert own.options.instructions == "Be brief." and own.metadata is None
    assert (own.options.audio_format, own.options.sample_rate) == (AudioFormat.PCM, 24000)
    assert (own.options.voice, own.options.speed) == ("alba", 1.25)
    params = RealtimeResponseCreateParams(instructions="Be long.", metadata={"k": "v"})
    asked = response_request(config, params)
    assert asked.options.instructions == "Be long." and asked.metadata == {"k": "v"}
    assert response_request(RealtimeConfig("realtime")).options.voice is None


def test_a_response_request_refuses_its_own_input_and_out_of_band() -> None:
    config = RealtimeConfig("realtime")
    params = RealtimeResponseCreateParams.model_validate(
        {"input": [{"type": "message", "role": "user", "content": [{"type": "input_text"}]}]}
    )
    assert refusal(response_request, config, params).param == "response.input"
    none = RealtimeResponseCreateParams(conversation="none")
    assert refusal(response_request, config, none).param == "response.conversation"


def test_an_output_item_opens_and_closes_with_its_ids() -> None:
    output = Output("resp_1", "item_1", "item_0")
    opened = [e.model_dump(exclude_unset=True, exclude={"event_id"}) for e in output.opened()]
    assert [e["type"] for e in opened] == [
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
    ]
    assert opened[1]["previous_item_id"] == "item_0"
    assert opened[2]["item_id"] == "item_1" and opened[2]["response_id"] == "resp_1"
    item, closing = output.closed("incomplete", "Hello")
    assert (item.status, item.content[0].transcript) == ("incomplete", "Hello")
    assert [e.type for e in closing] == [  # type: ignore[attr-defined]
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
    ]
