"""The prompt of one turn: the analyst role's persona, the session's previous turns
(newest kept, trimmed to a message and a token budget; a reply's tool calls and their
outputs before it), and what the user just said."""

from __future__ import annotations

from collections.abc import Sequence

from voice_worker.chat.base import ChatMessage
from voice_worker.chat.settings import ChatSettings
from voice_worker.errors import InvalidRequest
from voice_worker.store.base import MessageRecord
from voice_worker.tools.loop import replayed_calls


def estimate_tokens(text: str) -> int:
    """About four characters a token (English, BPE tokenizers); never zero."""
    return max(1, (len(text) + 3) // 4)


def persona(settings: ChatSettings, role: str) -> str:
    name = role or settings.default_role
    try:
        return settings.roles[name]
    except KeyError:
        valid = ", ".join(sorted(settings.roles))
        raise InvalidRequest(
            f"unknown analyst role {name!r}; valid roles: {valid}", param="analyst_role"
        ) from None


def window_step(max_messages: int) -> int:
    return max(2, max_messages // 2)


def trim_history(
    history: Sequence[MessageRecord], max_messages: int, max_tokens: int, total: int = -1
) -> list[MessageRecord]:
    """The newest messages that fit both budgets, oldest first; never starts with an
    assistant message cut from its question.

    The window's start moves in steps of half the message budget, never one turn at a
    time: it is the earliest step-aligned message (counted from the session's first)
    from which the rest fits the token budget. Between steps the prompt keeps the same
    beginning, so a local model reuses its evaluated prompt (llama.cpp keeps it) and
    reads only the new turn. `history` is the session's newest messages; `total` the
    number the session has (-1: `history` is all of them)."""
    if max_messages <= 0:
        return []
    total = len(history) if total < 0 else total
    step = window_step(max_messages)
    first = total - len(history)  # the session's index of history[0]
    base = 0
    if total > max_messages:
        base = -(-(total - max_messages) // step) * step  # ceil to a whole step
    costs = [estimate_tokens(message.text + _outputs(message)) for message in history]
    for start in range(base, total, step):
        index = start - first
        if index >= 0 and sum(costs[index:]) <= max_tokens:
            return _no_orphan_answer(list(history[index:]))
    kept: list[MessageRecord] = []  # even the newest step is too long: what fits
    used = 0
    for message, cost in zip(reversed(history), reversed(costs), strict=True):
        if used + cost > max_tokens:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    return _no_orphan_answer(kept)


def _outputs(message: MessageRecord) -> str:
    """What a reply's tool calls returned: in the prompt too."""
    return "".join(
        str(c.get("arguments", "")) + str(c.get("output", "")) for c in message.tool_calls
    )


def _no_orphan_answer(kept: list[MessageRecord]) -> list[MessageRecord]:
    while kept and kept[0].role == "assistant":
        kept.pop(0)
    return kept


def build_prompt(
    settings: ChatSettings,
    role: str,
    history: Sequence[MessageRecord],
    user_text: str,
    total: int = -1,
    instructions: str | None = None,
) -> list[ChatMessage]:
    """`instructions`, when given, is the system persona instead of the role's."""
    budget = settings.history_max_messages
    past = trim_history(history, budget, settings.history_max_tokens, total)
    system = persona(settings, role) if instructions is None else instructions
    said = [ChatMessage("system", system)]
    for m in past:
        if m.role == "assistant" and m.tool_calls:
            said += replayed_calls(m.tool_calls, m.text)
        else:
            said.append(ChatMessage(m.role, m.text))
    return [*said, ChatMessage("user", user_text)]
