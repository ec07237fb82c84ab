import pytest

from shared.text import split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there. How are you?", ["Hello there.", "How are you?"]),
        ("Wait! Really?! Yes.", ["Wait!", "Really?!", "Yes."]),
        (
            "Dr. Smith paid $3.50 on Jan. 5th. He left.",
            ["Dr. Smith paid $3.50 on Jan. 5th.", "He left."],
        ),
        (
            "Ask J. F. Kennedy, e.g. about it. Then go.",
            ["Ask J. F. Kennedy, e.g. about it.", "Then go."],
        ),
        ('He said "stop." Then he left.', ['He said "stop."', "Then he left."]),
        ("Version 2.0 is out. Pi is 3.14159.", ["Version 2.0 is out.", "Pi is 3.14159."]),
        ("你好。今天天气很好！", ["你好。", "今天天气很好！"]),
        ("First paragraph\n\nSecond paragraph", ["First paragraph", "Second paragraph"]),
        ("  no terminal punctuation  ", ["no terminal punctuation"]),
        ("", []),
        ("   \n ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_long_run_on_sentence_is_cut_at_commas_then_spaces() -> None:
    text = ", ".join(f"clause number {i} goes here" for i in range(40))
    pieces = split_sentences(text, max_chars=100)
    assert all(len(p) <= 100 for p in pieces)
    assert " ".join(pieces).replace(" ,", ",") == text
    assert pieces[0].endswith(",")  # cut after a comma, not mid-clause


def test_nothing_is_lost() -> None:
    text = "One. Two? Three! Mr. Four went to St. Louis at 5 p.m. today. Five…  Six"
    assert "".join(split_sentences(text)).replace(" ", "") == text.replace(" ", "")
