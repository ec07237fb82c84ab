"""Separating a model's thinking from its answer, as the answer streams.

Qwen3 models think before they answer. The thinking arrives either in a separate field
(`reasoning_content`, handled by the providers) or inline as `<think>...</think>` in the
content. Streamed, a tag can be split across chunks (`<thi` + `nk>`), and a model cut
off by `max_tokens` can leave a block never closed: everything after an unclosed
`<think>` is thinking. Only the text outside the blocks is ever spoken."""

from __future__ import annotations

from voice_worker.chat.base import TextDelta, ThinkingDelta

OPEN, CLOSE = "<think>", "</think>"
Delta = TextDelta | ThinkingDelta


class ThinkingParser:
    """Feed content chunks as they stream; each call returns the deltas it can tell
    apart now (a possible partial tag is held back); `.text` and `.thinking` are the
    totals so far."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._thinking: list[str] = []
        self._inside = False
        self._pending = ""  # a possible partial tag at the end of the last chunk

    def feed(self, chunk: str) -> list[Delta]:
        out: list[Delta] = []
        data = self._pending + chunk
        self._pending = ""
        while data:
            tag = CLOSE if self._inside else OPEN
            index = data.find(tag)
            if index >= 0:
                self._emit(data[:index], out)
                data = data[index + len(tag) :]
                self._inside = not self._inside
                continue
            keep = _partial_suffix(data, tag)
            self._emit(data[: len(data) - keep], out)
            self._pending = data[len(data) - keep :]
            break
        return out

    def _emit(self, part: str, out: list[Delta]) -> None:
        if part:
            (self._thinking if self._inside else self._text).append(part)
            out.append(ThinkingDelta(part) if self._inside else TextDelta(part))

    def close(self) -> list[Delta]:
        """End of stream: a held partial tag was ordinary text after all."""
        out: list[Delta] = []
        self._emit(self._pending, out)
        self._pending = ""
        return out

    @property
    def text(self) -> str:
        return "".join(self._text).strip()

    @property
    def thinking(self) -> str:
        return "".join(self._thinking).strip()


def _partial_suffix(data: str, tag: str) -> int:
    """Length of the longest suffix of `data` that is a proper prefix of `tag`."""
    for size in range(min(len(tag) - 1, len(data)), 0, -1):
        if tag.startswith(data[-size:]):
            return size
    return 0


def split_thinking(content: str) -> tuple[str, str]:
    """(text, thinking) of a whole reply."""
    parser = ThinkingParser()
    parser.feed(content)
    parser.close()
    return parser.text, parser.thinking
