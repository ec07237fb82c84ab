"""From a playback position back to the words heard.

A reply's audio goes out with sentence marks (conversation.events.AudioDelta: `text`
where a sentence's audio begins, at `text_start` seconds). `SpokenReply` keeps those
marks, the length of the audio delivered, and where in each sentence's audio the voice
is (the first and last loud sample: a voice leaves silence around a sentence);
`heard(seconds)` is the reply as far as a listener heard it when playback stopped
there: every sentence whose voice had ended, then the words of the sentence in progress
in proportion to its voiced audio (a word counts once the share of the sentence's
characters up to its middle has played), so the history the model reads next turn is
what the user heard."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Sentence:
    start: float  # where its audio begins, seconds into the reply
    text: str
    voice_start: float | None = None  # where the voice is heard first / last
    voice_end: float | None = None


@dataclass
class SpokenReply:
    sentences: list[Sentence] = field(default_factory=list)
    seconds: float = 0.0  # audio delivered so far

    def add(
        self,
        audio_seconds: float,
        text: str = "",
        text_start: float = 0.0,
        voiced: tuple[float, float] | None = None,
    ) -> None:
        """Another piece of audio, `audio_seconds` long; `text` where a sentence begins;
        `voiced`, the span of the piece where the voice is loud (seconds into it)."""
        if text:
            self.sentences.append(Sentence(text_start, text))
        if voiced is not None and self.sentences:
            last = self.sentences[-1]
            begin, end = self.seconds + voiced[0], self.seconds + voiced[1]
            last.voice_start = begin if last.voice_start is None else last.voice_start
            last.voice_end = end
        self.seconds += audio_seconds

    def heard(self, seconds: float) -> str:
        """The words heard when playback stopped at `seconds` (clamped to the audio)."""
        seconds = min(max(seconds, 0.0), self.seconds)
        words: list[str] = []
        for i, sentence in enumerate(self.sentences):
            end = self.sentences[i + 1].start if i + 1 < len(self.sentences) else self.seconds
            low = sentence.start if sentence.voice_start is None else sentence.voice_start
            high = end if sentence.voice_end is None else sentence.voice_end
            if seconds <= low:
                break
            if seconds >= high:
                words.append(sentence.text.strip())
                continue
            words.append(leading_words(sentence.text.strip(), (seconds - low) / (high - low)))
            break
        return " ".join(w for w in words if w)


def leading_words(sentence: str, share: float) -> str:
    """The words of `sentence` whose middle lies within its first `share` of characters."""
    budget = share * len(sentence)
    kept: list[str] = []
    position = 0
    for word in sentence.split():
        start = sentence.index(word, position)
        position = start + len(word)
        if start + len(word) / 2 > budget:
            break
        kept.append(word)
    return " ".join(kept)
