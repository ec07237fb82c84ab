"""Sentence splitting for streamed synthesis: each sentence is synthesized and sent as
soon as it exists, so the split decides time to first audio.

Rules: split after `.`, `!`, `?` or `…` (plus closing quotes/brackets) when whitespace
follows, except after a known abbreviation ("Dr.", "e.g."), a single initial ("J. F.
Kennedy") or inside a number ("3.50" never splits, since no whitespace follows the dot).
CJK full stops split without whitespace. Blank lines always split.

`SentenceBuffer` applies the same rules to text that arrives in pieces (a chat model's
deltas, one character at a time if need be): it releases each sentence as soon as its
end is certain, and the sentences it releases are exactly `split_sentences` of the
whole text. Asked to (`first_clause_words`), it releases the first clause of the text
on its own as soon as it ends (a comma, semicolon, colon or dash after that many
words, or a conjunction such as "and" after a few more): someone waiting for a reply
hears it a sentence's synthesis sooner.
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    (
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
        "approx",
        "dept",
        "est",
        "fig",
        "inc",
        "ltd",
        "co",
        "corp",
        "no",
        "vol",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mt",
        "ft",
        "u.s",
        "u.k",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "rev",
        "hon",
    )
)

_BOUNDARY = re.compile(r"""([.!?…]+["'”’)\]]*)(\s+)|([。！？]+)|(\n\s*\n)""")
#: how many words a first clause needs to be spoken on its own
FIRST_CLAUSE_WORDS = 4
_CLAUSE = re.compile(r"[,;:—–](?=\s)|\s[—–](?=\s)")
#: a clause ends before these words too, once it has CONJUNCTION_EXTRA words more
_CONJUNCTION = re.compile(r"\s(?=(?:and|but|so|because|which)\s)")
CONJUNCTION_EXTRA = 2


def _ends_with_abbreviation(text: str) -> bool:
    word = text.rsplit(None, 1)[-1] if text.strip() else ""
    word = word.lstrip("\"'“‘(").rstrip(".").lower()
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def split_sentences(text: str, max_chars: int = 400) -> list[str]:
    """Split `text` into sentences (stripped, none empty). A sentence longer than
    `max_chars` is further cut at the last comma or space before the limit, so one
    run-on sentence cannot delay the first audio for long."""
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end(1) if match.group(1) else match.end()
        candidate = text[start:end]
        if (
            match.group(1)
            and match.group(1).startswith(".")
            and _ends_with_abbreviation(candidate.rstrip(".\"'”’)]") + ".")
        ):
            continue
        sentences.append(candidate)
        start = match.end()
    sentences.append(text[start:])
    out: list[str] = []
    for sentence in (s.strip() for s in sentences):
        out.extend(_cut(sentence, max_chars))
    return [s for s in out if s]


def _cut(sentence: str, max_chars: int) -> list[str]:
    pieces = []
    while len(sentence) > max_chars:
        window = sentence[:max_chars]
        cut = max(window.rfind(", "), window.rfind("; "))
        cut = cut + 1 if cut > max_chars // 3 else window.rfind(" ")
        cut = cut if cut > 0 else max_chars
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    pieces.append(sentence)
    return pieces


class SentenceBuffer:
    """Text in pieces of any size in; sentences out as soon as their end is certain
    (punctuation followed by whitespace, a CJK full stop followed by more text, a blank
    line), or at `close()`. A run-on sentence is released in `max_chars` pieces as soon
    as it is longer than that."""

    def __init__(self, max_chars: int = 400, first_clause_words: int = 0) -> None:
        self.max_chars = max_chars
        self.first_clause_words = first_clause_words
        self._pending = ""
        self._released = False

    @property
    def pending(self) -> str:
        """Text received and not released yet."""
        return self._pending

    def feed(self, piece: str) -> list[str]:
        """Add `piece`; the sentences it completes."""
        self._pending += piece
        released: list[str] = []
        start = 0
        for match in _BOUNDARY.finditer(self._pending):
            if match.group(3) and match.end() == len(self._pending):
                break  # "。" at the very end: more full stops may follow
            end = match.end(1) if match.group(1) else match.end()
            candidate = self._pending[start:end]
            if (
                match.group(1)
                and match.group(1).startswith(".")
                and _ends_with_abbreviation(candidate.rstrip(".\"'”’)]") + ".")
            ):
                continue
            released += _cut(candidate.strip(), self.max_chars)
            start = match.end()
        self._pending = self._pending[start:]
        if not released and not self._released and self.first_clause_words:
            released += self._first_clause()
        rest = self._pending.strip()
        if len(rest) > self.max_chars:  # a run-on sentence: its first pieces are known
            pieces = _cut(rest, self.max_chars)
            released += pieces[:-1]
            trailing = self._pending[len(self._pending.rstrip()) :]  # a word may go on
            self._pending = pieces[-1] + trailing
        released = [s for s in released if s]
        self._released = self._released or bool(released)
        return released

    def _first_clause(self) -> list[str]:
        """The first clause, once it ends: at a comma, semicolon, colon or dash after
        `first_clause_words` words, or before a conjunction ("and", "but", ...) after
        CONJUNCTION_EXTRA more (a shorter phrase before one is rarely a clause)."""
        ends = [(m.end(), 0) for m in _CLAUSE.finditer(self._pending)]
        ends += [(m.end(), CONJUNCTION_EXTRA) for m in _CONJUNCTION.finditer(self._pending)]
        for end, extra in sorted(ends):
            clause = self._pending[:end].strip()
            if len(clause.split()) >= self.first_clause_words + extra:
                self._pending = self._pending[end:]
                return [clause]
        return []

    def close(self) -> list[str]:
        """The end of the text: whatever is left, as sentences."""
        rest, self._pending = self._pending.strip(), ""
        return [s for s in _cut(rest, self.max_chars) if s]
