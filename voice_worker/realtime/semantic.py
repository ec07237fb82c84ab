"""`semantic_vad`'s decision: when, in a pause, the end-of-turn model is asked whether
the speaker has finished, and how sure it must be (realtime/smart_turn.py gives the
probability, realtime/vad.py asks). Pure logic.

Silero still says where speech and silence are. Once a pause has lasted `first_ms`
the utterance so far is judged; if the model's probability reaches the eagerness's
`threshold` the turn ends there. If not, the judgement is repeated each time the
silence has doubled (the model hears the longer silence: its probability rises with
it), and at `max_ms` the turn ends anyway (OpenAI's 8 s / 4 s / 2 s for low / medium /
high). Speech again starts the count over (one utterance)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["low", "medium", "high", "auto"]


@dataclass(frozen=True)
class Eagerness:
    first_ms: int  # silence before the first judgement
    threshold: float  # the probability that ends the turn
    max_ms: int  # the longest wait: the turn ends after this much silence anyway

    def checkpoints(self) -> tuple[int, ...]:
        """The silences (ms) at which the utterance is judged."""
        points, at = [], self.first_ms
        while at < self.max_ms:
            points.append(at)
            at *= 2
        return tuple(points)


#: the frame grid is 32 ms: 128 / 192 / 384 ms are 4 / 6 / 12 frames of silence
EAGERNESS: dict[str, Eagerness] = {
    "high": Eagerness(first_ms=128, threshold=0.3, max_ms=2000),
    "medium": Eagerness(first_ms=192, threshold=0.5, max_ms=4000),
    "low": Eagerness(first_ms=384, threshold=0.7, max_ms=8000),
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

    def complete(self, silent_ms: int, probability: float) -> bool:
        """The model's verdict after `silent_ms` of silence: does the turn end?"""
        self.seen.append((silent_ms, probability))
        return probability >= self.eagerness.threshold

    def timed_out(self, silent_ms: int) -> bool:
        return silent_ms >= self.eagerness.max_ms
