"""Thinking is separated from the spoken answer, however the stream cuts the tags."""

from __future__ import annotations

import pytest

from voice_worker.chat.thinking import ThinkingParser, split_thinking


def test_inline_block_at_the_start() -> None:
    assert split_thinking("<think>two and two</think>It is four.") == ("It is four.", "two and two")


def test_no_block_is_all_text() -> None:
    assert split_thinking("Just an answer, 3 < 4 and <b>.") == (
        "Just an answer, 3 < 4 and <b>.",
        "",
    )


def test_never_closed_block_is_all_thinking() -> None:
    assert split_thinking("<think>still thinking when cut off") == (
        "",
        "still thinking when cut off",
    )


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_tags_split_across_chunks_at_every_offset(size: int) -> None:
    content = "<think>Let me see.</think>The answer is four. <think>again</think>Bye."
    parser = ThinkingParser()
    for i in range(0, len(content), size):
        parser.feed(content[i : i + size])
    parser.close()
    assert parser.text == "The answer is four. Bye."
    assert parser.thinking == "Let me see.again"


def test_partial_tag_at_the_very_end_is_text() -> None:
    parser = ThinkingParser()
    parser.feed("Four <thi")
    parser.close()
    assert parser.text == "Four <thi"
    assert parser.thinking == ""
