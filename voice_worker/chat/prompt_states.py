"""Evaluated prompts of the local model, kept so that a conversation's next turn reads
only its new words (`PromptStates`).

llama.cpp keeps one evaluated context: the last prompt and reply. A turn whose prompt
begins with it (the same session, next turn) evaluates only the rest; after another
session's turn it would re-read the whole prompt (3 ms a token here: a second for a
400-token history). So after every completion the context's state (its KV cache, only
the cells in use) is kept under the tokens it holds, and before a completion the kept
state that shares the longest beginning with the new prompt is loaded when it shares
more than the live context does.

Bounded by `capacity_bytes` (VOICE_CHAT__LOCAL__PROMPT_CACHE_MB): the bytes of the
states kept, least recently used dropped first. A state that is a beginning of the one
being kept is dropped at once (the same conversation's earlier turn), so there is about
one state per conversation. llama-cpp-python's own `LlamaRAMCache` is not used: it also
copies the logits array with every state (about 200 KB a prompt token with a 49k-token
vocabulary, never counted against its capacity) and keeps every turn of a conversation.

Not thread-safe: LocalChat calls it under the lock that holds its one model."""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

#: a kept state is loaded only when it saves at least this many tokens of evaluation
MIN_GAIN_TOKENS = 8


@dataclass(frozen=True)
class KeptState:
    tokens: npt.NDArray[np.intc]
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data) + self.tokens.nbytes


def common_prefix(a: npt.NDArray[np.intc], b: npt.NDArray[np.intc]) -> int:
    """How many tokens `a` and `b` share at their start."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n


class PromptStates:
    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._kept: OrderedDict[int, KeptState] = OrderedDict()
        self._next = 0
        self.loads = 0  # states loaded (a turn resumed from its conversation's state)

    @property
    def size(self) -> int:
        return sum(state.size for state in self._kept.values())

    def __len__(self) -> int:
        return len(self._kept)

    def prepare(self, llama: Any, prompt: list[int]) -> int:
        """Before a completion of `prompt`: the kept state that shares the most with it
        loaded, if it shares more than the live context; the tokens shared."""
        wanted = np.asarray(prompt, dtype=np.intc)
        live = common_prefix(np.asarray(llama.input_ids[: llama.n_tokens]), wanted)
        best, best_key = live, None
        for key, state in self._kept.items():
            shared = common_prefix(state.tokens, wanted)
            if shared > best:
                best, best_key = shared, key
        if best_key is None or best - live < MIN_GAIN_TOKENS:
            return live
        self._kept.move_to_end(best_key)
        _load(llama, self._kept[best_key])
        self.loads += 1
        return best

    def keep(self, llama: Any) -> None:
        """After a completion: the live context kept under its tokens."""
        if self.capacity_bytes <= 0 or llama.n_tokens == 0:
            return
        tokens = np.array(llama.input_ids[: llama.n_tokens], dtype=np.intc)
        for key, state in list(self._kept.items()):
            if common_prefix(state.tokens, tokens) == len(state.tokens):
                del self._kept[key]  # an earlier turn of the same conversation
        state = KeptState(tokens, _save(llama))
        if state.size > self.capacity_bytes:
            return
        self._kept[self._next] = state
        self._next += 1
        while self.size > self.capacity_bytes:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()


def _save(llama: Any) -> bytes:
    import llama_cpp

    ctx = llama._ctx.ctx
    size = int(llama_cpp.llama_state_get_size(ctx))
    buffer = (ctypes.c_uint8 * size)()
    written = int(llama_cpp.llama_state_get_data(ctx, buffer, size))
    if written > size:
        raise RuntimeError("llama.cpp wrote more state than it said it would")
    return ctypes.string_at(buffer, written)


def _load(llama: Any, state: KeptState) -> None:
    """The state put into the context, and llama-cpp-python told which tokens it holds
    (its logits row is stale: `_requires_eval` makes the next completion evaluate at
    least one token before sampling, as llama-cpp-python's own load_state does)."""
    import llama_cpp

    size = len(state.data)
    buffer = (ctypes.c_uint8 * size).from_buffer_copy(state.data)
    if int(llama_cpp.llama_state_set_data(llama._ctx.ctx, buffer, size)) != size:
        raise RuntimeError("llama.cpp refused a kept prompt state")
    n = len(state.tokens)
    llama.input_ids[:n] = state.tokens
    llama.n_tokens = n
    llama._requires_eval = True
