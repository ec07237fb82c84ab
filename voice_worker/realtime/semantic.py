"""`semantic_vad`'s decision: when, in a pause, the end-of-turn model is asked whether
the speaker has finished, and how sure it must be (realtime/smart_turn.py gives the
probability, realtime/vad.py asks). Pure logic.

Silero still says where speech and silence are. Once a pause has lasted `first_ms`
the utterance so far is judged; if the model's probability reaches the eagerness's
`threshold` the turn ends there. If not, the judgement is repeated each time the
silence has doubled (the model hears the longer silence: its probability rises with
it), and at `max_ms` the turn ends anyway (OpenAI's 8 s / 4 s / 2 s for low / medium /
high). Speech again starts the count over (one utterance).

The words count too (LiveKit's turn detector judges only them): the early transcript
of the speech so far (realtime/input.py waits for it at a judgement) is read first.
Words that trail off (Whisper writes "..." or a comma there) or end on a word that
leads into more ("and", "so", "um", "the", "to": `LEADING`) are not the end of a
thought unless the silence grows to `patience_ms` and the model agrees. Words that
end a sentence (".", "?", "!") end the turn unless the model objects (a probability
under a quarter of the threshold), and at `patience_ms` even then: on voices it was
not trained on (espeak-ng's) the model's probability says little, finished or not
(measured: 0.01 to 0.98 either way), and a finished sentence should not wait for the
longest wait.
Without words (no transcript, or no punctuation) the model alone decides."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Level = Literal["low", "medium", "high", "auto"]


@dataclass(frozen=True)
class Eagerness:
    first_ms: int  # silence before the first judgement
    threshold: float  # the probability that ends the turn
    max_ms: int  # the longest wait: the turn ends after this much silence anyway
    patience_ms: int  # finished words end the turn after this much silence, model or not

    def checkpoints(self) -> tuple[int, ...]:
        """The silences (ms) at which the utterance is judged."""
        points, at = [], self.first_ms
        while at < self.max_ms:
            points.append(at)
            at *= 2
        return tuple(points)


#: the frame grid is 32 ms: 128 / 192 / 384 ms are 4 / 6 / 12 frames of silence
EAGERNESS: dict[str, Eagerness] = {
    "high": Eagerness(first_ms=128, threshold=0.3, max_ms=2000, patience_ms=768),
    "medium": Eagerness(first_ms=192, threshold=0.5, max_ms=4000, patience_ms=1536),
    "low": Eagerness(first_ms=384, threshold=0.7, max_ms=8000, patience_ms=3072),
}
EAGERNESS["auto"] = EAGERNESS["medium"]


class Pause:
    """One pause's judgements: which checkpoint is next, and what a verdict means."""

    def __init__(self, eagerness: Eagerness) -> None:
        self.eagerness = eagerness
        self.points = eagerness.checkpoints()
        self.next = 0  # the index of the next checkpoint
        self.seen: list[tuple[int, float]] = []  # (silence ms, probability) judged

    def due(self, silent_ms: int) -> bool:
        """Whether the utterance is to be judged now (each checkpoint once; a silence
        that jumped past several is judged once)."""
        if self.next >= len(self.points) or silent_ms < self.points[self.next]:
            return False
        while self.next < len(self.points) and self.points[self.next] <= silent_ms:
            self.next += 1
        return True

    def complete(self, silent_ms: int, probability: float, words: str | None = None) -> bool:
        """The verdict after `silent_ms` of silence, from the model's probability and
        the words heard so far (None: not known): does the turn end?"""
        self.seen.append((silent_ms, probability))
        agrees = probability >= self.eagerness.threshold
        match words_end(words):
            case "unfinished":  # only a long silence the model agrees with ends it
                return agrees and silent_ms >= self.eagerness.patience_ms
            case "finished":  # unless the model objects, or for a long silence
                objects = probability < self.eagerness.threshold / 4
                return not objects or silent_ms >= self.eagerness.patience_ms
            case _:
                return agrees

    def timed_out(self, silent_ms: int) -> bool:
        return silent_ms >= self.eagerness.max_ms


#: words after which a thought goes on: conjunctions, articles, prepositions,
#: possessives and fillers (a question may end on a preposition: "?" is finished)
LEADING = frozenset(
    (
        "and",
        "or",
        "but",
        "so",
        "because",
        "if",
        "whether",
        "nor",
        "although",
        "though",
        "unless",
        "until",
        "while",
        "whose",
        "as",
        "than",
        "a",
        "an",
        "the",
        "my",
        "your",
        "our",
        "their",
        "its",
        "every",
        "to",
        "of",
        "at",
        "for",
        "with",
        "from",
        "by",
        "about",
        "into",
        "onto",
        "between",
        "against",
        "among",
        "um",
        "uh",
        "er",
        "erm",
    )
)
#: words that end a thought only with a period after them ("Yes, I can.")
AUXILIARY = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "am",
        "be",
        "been",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "shall",
        "may",
        "might",
        "must",
    ]
)
_TRAILING = ("...", "…", ",", "-", "–", "—", ":", ";")
_WORD = re.compile(r"[a-z']+")


def words_end(words: str | None) -> Literal["finished", "unfinished"] | None:
    """How a transcript ends: "unfinished" (no words yet, it trails off or it ends on a
    leading word), "finished" (a sentence's end), or None (no transcript, or no
    punctuation: the words do not say)."""
    if words is None:
        return None
    text = words.strip().strip('"').rstrip()
    if not _WORD.search(text.lower()):
        return "unfinished"  # nothing said yet (Whisper leaves out an "uh")
    if text.endswith(_TRAILING):
        return "unfinished"
    if text.endswith("?"):
        return "finished"
    found = _WORD.findall(text.lower())
    if found and found[-1] in LEADING:
        return "unfinished"  # Whisper may write "...a run so." for "...a run so"
    if text.endswith((".", "!")):
        return "finished"
    if found and found[-1] in AUXILIARY:
        return "unfinished"  # "So what I'm wondering is"
    return None
