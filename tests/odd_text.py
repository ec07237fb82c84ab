"""Text a voice cannot, or can barely, speak: the corpus both transports are tested
with (tests/model_server/test_odd_text.py, tests/worker/test_odd_text.py). None of it
may give a 5xx, UNKNOWN or INTERNAL: each is spoken (200 / OK) or refused as the
client's mistake (400 / INVALID_ARGUMENT) with the reason below (shared/speakable.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OddText:
    name: str
    text: str
    #: None: it is spoken; else the TextIssue value that refuses it
    refused: str | None = None


CORPUS = [
    OddText("nul", "Hello\x00there.", "control_character"),
    OddText("escape_sequence", "Hi \x1b[31mred\x1b[0m.", "control_character"),
    OddText("bell_only", "\x07", "control_character"),
    OddText("c1_control", "Price\x85list.", "control_character"),
    OddText("lone_surrogate", "Hi \ud800 there.", "control_character"),
    OddText("zero_width_only", "\u200b\u200d\ufeff", "not_speakable"),
    OddText("emoji_only", "😀🎉👍", "not_speakable"),
    OddText("punctuation_only", "!!!", "not_speakable"),
    OddText("symbols_only", "∑∫√∞ ≠ ≤", "not_speakable"),
    OddText("combining_marks_only", "\u0301\u0301", "not_speakable"),
    OddText("whitespace_only", " \t\r\n ", "empty"),
    OddText("zero_width_joiners", "Family: 👨\u200d👩\u200d👧 here."),
    OddText("right_to_left", "مرحبا بالعالم. שלום עולם."),
    OddText("direction_override", "Hello \u202eworld\u202c."),
    OddText("markup", "<speak><b>Hello</b> &amp; welcome</speak>"),
    OddText("zalgo", "Z̴̡̛a̷l̶g̸o̵ text"),
    OddText("cjk", "你好，世界。"),
    OddText("digits_only", "12345"),
    OddText("tabs_and_newlines", "Line one.\n\n\tLine two.\r\n"),
    OddText("no_space_4096", "a" * 4096),
]
#: lone surrogates cannot be encoded in a protobuf string (UTF-8); the gRPC tests send
#: invalid UTF-8 bytes instead and expect INVALID_ARGUMENT (REQUEST_MALFORMED)
NOT_ENCODABLE = {"lone_surrogate"}
