"""The document's patterns say exactly what the worker checks: the text to be spoken
(shared.speakable.check_speakable) and a typed turn (TurnBegin.check_text), compared
on generated text of every kind (controls, white space of every script, unassigned
code points, letters of any script) and on the cases that once disagreed."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared.speakable import TextRejected, check_characters, check_speakable
from voice_worker.openapi import speakable_pattern, turn_text_pattern

MOST = 12
_text = st.text(
    st.one_of(
        st.characters(exclude_categories=["Cs"]),  # no JSON text holds a lone surrogate
        st.sampled_from(" \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000\x00\x7f\uaa4f!."),
    ),
    max_size=MOST + 4,
)
SPEAKABLE = re.compile(speakable_pattern())
TURN = re.compile(turn_text_pattern(MOST))


def speaks(text: str) -> bool:
    try:
        check_speakable(text, MOST)
    except TextRejected:
        return False
    return True


def is_turn(text: str) -> bool:
    """TurnBegin.check_text's rule (stripped, not empty, at most MOST, no control)."""
    text = text.strip()
    if not text or len(text) > MOST:
        return False
    try:
        check_characters(text)
    except TextRejected:
        return False
    return True


@settings(max_examples=2000, deadline=None)
@given(_text)
@example("\uaa4f")
@example("  ")
@example("a" * MOST)
@example("a" * (MOST + 1))
def test_the_speakable_pattern_is_the_rule(text: str) -> None:
    assert (SPEAKABLE.fullmatch(text) is not None and len(text) <= MOST) == speaks(text)


@settings(max_examples=2000, deadline=None)
@given(_text)
@example("A\x0b")
@example(" " + "a" * MOST + "\x0b")
@example("a\x0bb")
@example("\x85")
def test_the_turn_pattern_is_the_rule(text: str) -> None:
    assert (TURN.fullmatch(text) is not None) == is_turn(text)
