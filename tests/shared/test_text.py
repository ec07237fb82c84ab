import random

import pytest

from shared.text import SentenceBuffer, split_sentences


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


TEXTS = [
    "Hello there. How are you?",
    "Wait! Really?! Yes.",
    "Dr. Smith paid $3.50 on Jan. 5th. He left.",
    "Ask J. F. Kennedy, e.g. about it. Then go.",
    'He said "stop." Then he left.',
    "Version 2.0 is out. Pi is 3.14159.",
    "你好。今天天气很好！再见。。好",
    "First paragraph\n\nSecond paragraph\n\n \n\nThird.",
    "  no terminal punctuation  ",
    "Ends with an ellipsis… Then more... And more?!  ",
    ", ".join(f"clause number {i} goes here" for i in range(40)) + ". Short one.",
    "x" * 1000 + " and then. A sentence.",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("seed", range(5))
def test_sentence_buffer_releases_what_split_sentences_finds(text: str, seed: int) -> None:
    """Whatever the pieces (one character at a time, random sizes), the sentences
    released are those of the whole text, in order, none cut."""
    rng = random.Random(seed)
    pieces, rest = [], text
    while rest:
        size = 1 if seed == 0 else rng.randint(1, 12)
        pieces.append(rest[:size])
        rest = rest[size:]
    buffer = SentenceBuffer(max_chars=100)
    released = [s for piece in pieces for s in buffer.feed(piece)]
    assert released + buffer.close() == split_sentences(text, max_chars=100)


def test_a_sentence_is_released_as_soon_as_its_end_is_certain() -> None:
    buffer = SentenceBuffer()
    assert buffer.feed("Hello there") == []
    assert buffer.feed(".") == []  # "there.5"? ".." ? not yet certain
    assert buffer.feed(" H") == ["Hello there."]
    assert buffer.feed("ow are you? Dr.") == ["How are you?"]
    assert buffer.feed(" Smith is here") == []  # "Dr." is no sentence end
    assert buffer.close() == ["Dr. Smith is here"]
    assert buffer.close() == []


def test_the_first_clause_can_go_first() -> None:
    """Asked to, the buffer releases the text's first clause as soon as it ends (after
    enough words); after that, whole sentences as usual."""
    buffer = SentenceBuffer(first_clause_words=4)
    assert buffer.feed("Well, ") == []  # one word: too short a clause
    assert buffer.feed("the capital of France is Paris, of course") == [
        "Well, the capital of France is Paris,"
    ]
    assert buffer.feed(", and it is lovely, really. The") == [
        "of course, and it is lovely, really."
    ]
    assert buffer.feed(" end, again, ") == []  # only the first clause goes alone
    assert buffer.close() == ["The end, again,"]
    joined = SentenceBuffer(first_clause_words=4)
    assert joined.feed("I like bread and butter and ") == []  # too few words before "and"
    assert joined.feed("jam on toast and") == []  # "and" may be the start of "Andrew"
    assert joined.feed(" tea.") == ["I like bread and butter and jam on toast"]
    assert joined.close() == ["and tea."]
    assert SentenceBuffer(first_clause_words=4).feed("Sandy and Andrew and Randy went ") == []
    numbers = SentenceBuffer(first_clause_words=2)
    assert numbers.feed("It costs 1,000 dollars") == []  # no space after the comma
    assert numbers.feed(" — more or less") == ["It costs 1,000 dollars —"]
