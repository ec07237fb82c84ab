"""What the agent frameworks' realtime clients rely on (issue 19), with the official
`openai` SDK: `response.cancel` after the response ended is refused with OpenAI's own
words; `conversation.item.retrieve` and `.delete` over the connection's items (and
what a deletion does to the stored history); every `previous_item_id` names an item
that was added before it; every `response.done` follows its `response.created`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openai.types.realtime import RealtimeSessionCreateRequestParam

from harness.processes import JFK_TRANSCRIPT, word_error_rate
from tests.realtime.conftest import Worker
from tests.realtime.support import TYPED, frames, jfk_pcm, of_type, recv, until

PUSH_TO_TALK: RealtimeSessionCreateRequestParam = {
    "type": "realtime",
    "audio": {"input": {"turn_detection": None}},
}
CANCEL_FAILED = "Cancellation failed: no active response found"  # OpenAI's, word for word


async def history(worker: Worker, session_id: str) -> list[tuple[str, str]]:
    async with httpx.AsyncClient(base_url=worker.url, timeout=10) as client:
        page = await client.get(f"/api/voice/sessions/{session_id}/messages")
    return [(m["role"], m["text"]) for m in page.json()["items"]]


def check_order(events: list[Any]) -> None:
    """Each previous_item_id names an item added before it; each response.done comes
    after the response.created of its response."""
    added: set[str] = set()
    created: set[str] = set()
    for event in events:
        previous = getattr(event, "previous_item_id", None)
        if event.type in ("conversation.item.added", "input_audio_buffer.committed"):
            assert previous is None or previous in added, (event.type, previous, added)
        if event.type == "conversation.item.added":
            added.add(event.item.id)
        elif event.type == "response.created":
            created.add(event.response.id)
        elif event.type == "response.done":
            assert event.response.id in created, event.response.id


async def test_a_late_cancel_is_refused_as_openai_refuses_it(worker: Worker, venice: Any) -> None:
    async with worker.sdk().realtime.connect(model="m") as connection:
        await recv(connection)
        await connection.response.cancel(event_id="nothing-yet")
        refused = await until(connection, of_type("error"))
        assert refused.error.message == CANCEL_FAILED
        assert refused.error.code == "response_cancel_not_active"
        assert refused.error.type == "invalid_request_error"
        assert refused.error.event_id == "nothing-yet"
        await connection.conversation.item.create(item=TYPED)
        await connection.response.create()
        done = await until(connection, of_type("response.done"))
        assert done.response.status == "completed"
        await connection.response.cancel(event_id="too-late")  # the race LiveKit runs into
        refused = await until(connection, of_type("error"))
        assert (refused.error.message, refused.error.event_id) == (CANCEL_FAILED, "too-late")
        await connection.response.cancel(response_id=done.response.id)
        refused = await until(connection, of_type("error"))
        assert refused.error.message.startswith("Cancellation failed")


async def test_items_are_retrieved_in_openais_shape(worker: Worker, venice: Any) -> None:
    async with worker.sdk().realtime.connect(model="m") as connection:
        await recv(connection)
        await connection.session.update(session=PUSH_TO_TALK)
        for frame in frames(jfk_pcm()):
            await connection.input_audio_buffer.append(audio=frame)
        await connection.input_audio_buffer.commit()
        await connection.response.create()
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen)
        assert done.response.status == "completed"
        user_id = next(e.item_id for e in seen if e.type == "input_audio_buffer.committed")
        reply_id = done.response.output[0].id
        await connection.conversation.item.retrieve(item_id=user_id)
        user = (await until(connection, of_type("conversation.item.retrieved"))).item
        assert (user.id, user.type, user.role, user.status) == (
            user_id,
            "message",
            "user",
            "completed",
        )
        assert user.content[0].type == "input_audio"
        assert word_error_rate(JFK_TRANSCRIPT, user.content[0].transcript) <= 0.15
        await connection.conversation.item.retrieve(item_id=reply_id)
        reply = (await until(connection, of_type("conversation.item.retrieved"))).item
        assert (reply.id, reply.role, reply.status) == (reply_id, "assistant", "completed")
        assert reply.content[0].type == "output_audio"
        assert reply.content[0].transcript == "Hello from Venice."
        await connection.conversation.item.truncate(  # as openai-agents does, then retrieves
            item_id=reply_id, content_index=0, audio_end_ms=0
        )
        await until(connection, of_type("conversation.item.truncated"))
        await connection.conversation.item.retrieve(item_id=reply_id)
        cut = (await until(connection, of_type("conversation.item.retrieved"))).item
        assert cut.content[0].transcript == ""  # what the user heard of it
        await connection.conversation.item.retrieve(item_id="item_nope", event_id="r1")
        refused = await until(connection, of_type("error"))
        assert refused.error.message == (
            "Error retrieving item: the item with id 'item_nope' does not exist."
        )
        assert (refused.error.code, refused.error.event_id) == (
            "item_retrieve_invalid_item_id",
            "r1",
        )


async def test_deleting_items_and_what_the_history_keeps(worker: Worker, venice: Any) -> None:
    async with worker.sdk().realtime.connect(model="m") as connection:
        session_id = (await recv(connection)).session.model_dump()["id"]
        await connection.conversation.item.create(item=TYPED)
        await connection.response.create()
        done = await until(connection, of_type("response.done"))
        reply_id = done.response.output[0].id
        # LiveKit's truncate(audio_end_ms=0): the reply was not heard at all
        await connection.conversation.item.delete(item_id=reply_id)
        deleted = await until(connection, of_type("conversation.item.deleted"))
        assert deleted.item_id == reply_id
        await connection.conversation.item.retrieve(item_id=reply_id)
        refused = await until(connection, of_type("error"))
        assert refused.error.code == "item_retrieve_invalid_item_id"
        # a typed message deleted before any response answers it: nothing answers it
        unsent: Any = {**TYPED, "content": [{"type": "input_text", "text": "Never mind."}]}
        await connection.conversation.item.create(item=unsent)
        added = await until(connection, of_type("conversation.item.added"))
        assert added.previous_item_id != reply_id  # the deleted item is gone
        await connection.conversation.item.delete(item_id=added.item.id)
        await until(connection, of_type("conversation.item.deleted"))
        await connection.response.create()
        failed = await until(connection, of_type("response.done"))
        assert failed.response.status == "failed"
        assert failed.response.status_details.error.code == "no_user_input"
        await connection.conversation.item.delete(item_id="item_nope", event_id="d1")
        refused = await until(connection, of_type("error"))
        assert refused.error.message == (
            "Error deleting item: the item with id 'item_nope' does not exist."
        )
        assert (refused.error.code, refused.error.event_id) == ("item_delete_invalid_item_id", "d1")
        await connection.conversation.item.delete(item_id=reply_id)  # twice: unknown now
        refused = await until(connection, of_type("error"))
        assert refused.error.code == "item_delete_invalid_item_id"
    # the turn stays whole, its reply cut to what was heard: nothing
    assert await history(worker, session_id) == [("user", "Hm?"), ("assistant", "")]
    assert venice.requests[-1]["messages"][-1] == {"role": "user", "content": "Hm?"}


@pytest.mark.slow
async def test_a_response_cancelled_before_its_item_leaves_no_unknown_previous_item(
    worker: Worker, venice: Any
) -> None:
    async with worker.sdk().realtime.connect(model="m") as connection:
        await recv(connection)
        await connection.session.update(session=PUSH_TO_TALK)
        for frame in frames(jfk_pcm()):
            await connection.input_audio_buffer.append(audio=frame)
        await connection.input_audio_buffer.commit()
        # cancelled while it waits for the transcript (its task may not have run yet)
        await connection.response.create()
        await connection.response.cancel()
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen)
        assert done.response.status == "cancelled" and done.response.output == []
        user_id = next(e.item_id for e in seen if e.type == "input_audio_buffer.committed")
        await connection.conversation.item.create(item=TYPED)
        await connection.response.create()
        second = await until(connection, of_type("response.done"), seen)
        assert second.response.status == "completed"
    added = [e for e in seen if e.type == "conversation.item.added"]
    typed = next(e for e in added if e.item.role == "user" and e.item.id != user_id)
    assert typed.previous_item_id == user_id  # not the cancelled response's item
    reply = next(e for e in added if e.item.role == "assistant")
    assert reply.previous_item_id == typed.item.id
    assert [e.type for e in seen].count("response.created") == 2
    check_order(seen)
    # the spoken words waited, and the next response answered them with the typed ones
    said = next(e for e in seen if e.type.endswith("transcription.completed")).transcript
    assert venice.requests[-1]["messages"][-1]["content"] == f"{said} Hm?"


async def test_retrieve_and_delete_under_the_beta_names(worker: Worker, venice: Any) -> None:
    async with worker.sdk().beta.realtime.connect(model="gpt-4o-realtime-preview") as connection:
        await recv(connection)
        typed: Any = TYPED
        await connection.conversation.item.create(item=typed)
        created = await until(connection, of_type("conversation.item.created"))
        await connection.conversation.item.retrieve(item_id=created.item.id)
        retrieved = await until(connection, of_type("conversation.item.retrieved"))
        assert retrieved.item.id == created.item.id and retrieved.item.role == "user"
        assert retrieved.item.content[0].text == "Hm?"
        await connection.conversation.item.delete(item_id=created.item.id)
        deleted = await until(connection, of_type("conversation.item.deleted"))
        assert deleted.item_id == created.item.id
        await connection.response.cancel()
        refused = await until(connection, of_type("error"))
        assert refused.error.message == CANCEL_FAILED
