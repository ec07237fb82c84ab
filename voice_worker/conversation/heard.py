"""From a playback position back to the words heard.

A reply's audio goes out with sentence marks (conversation.events.AudioDelta: `text`
where a sentence's audio begins, at `text_start` seconds). `SpokenReply` keeps those
marks and the length of the audio delivered; `heard(seconds)` is the reply as far as a
listener heard it when playback stopped there: every sentence whose audio had ended,
then the words of the sentence in progress in proportion to its audio (a word counts
once the share of the sentence's characters up to its end has played), so the history
the model reads next turn is what the user heard."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SpokenReply:
    marks: list[tuple[float, str]] = field(default_factory=list)  # (start seconds, sentence)
    seconds: float = 0.0  # audio delivered so far

    def add(self, audio_seconds: float, text: str = "", text_start: float = 0.0) -> None:
        """Another piece of audio, `audio_seconds` long; `text` where a sentence begins."""
        if text:
            self.marks.append((text_start, text))
        self.seconds += audio_seconds

    def heard(self, seconds: float) -> str:
        """The words heard when playback stopped at `seconds` (clamped to the audio)."""
        seconds = min(max(seconds, 0.0), self.seconds)
        words: list[str] = []
        for i, (start, sentence) in enumerate(self.marks):
            if start >= seconds:
                break
            end = self.marks[i + 1][0] if i + 1 < len(self.marks) else self.seconds
            if seconds >= end:
                words.append(sentence.strip())
                continue
            share = (seconds - start) / (end - start) if end > start else 1.0
            words.append(_leading_words(sentence.strip(), share))
            break
        return " ".join(w for w in words if w)


def _leading_words(sentence: str, share: float) -> str:
    """The words of `sentence` that end within the first `share` of its characters."""
    budget = share * len(sentence)
    kept: list[str] = []
    position = 0
    for word in sentence.split():
        position = sentence.index(word, position) + len(word)
        if position > budget:
            break
        kept.append(word)
    return " ".join(kept)
