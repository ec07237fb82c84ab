"""The prompt of one turn: the analyst role's persona, the session's previous turns
(newest kept, trimmed to a message and a token budget), and what the user just said."""

from __future__ import annotations

from collections.abc import Sequence

from voice_worker.chat.base import ChatMessage
from voice_worker.chat.settings import ChatSettings
from voice_worker.errors import InvalidRequest
from voice_worker.store.base import MessageRecord


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

    When the history outgrows `max_messages`, the window's start moves in steps of half
    the budget rather than one turn at a time: between steps the prompt keeps the same
    beginning, so a local model reuses its cache of it (llama.cpp keeps the evaluated
    prefix) and evaluates only the new turn. `history` is the session's newest messages;
    `total` the number the session has (-1: `history` is all of them)."""
    if max_messages <= 0:
        return []
    total = len(history) if total < 0 else total
    step = window_step(max_messages)
    start = 0
    if total > max_messages:
        start = -(-(total - max_messages) // step) * step  # ceil to a whole step
    start = max(0, start - (total - len(history)))  # as an index into `history`
    kept: list[MessageRecord] = []
    used = 0
    for message in reversed(history[start:]):
        cost = estimate_tokens(message.text)
        if used + cost > max_tokens:
            break
        kept.append(message)
        used += cost
    kept.reverse()
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
    return [
        ChatMessage("system", system),
        *(ChatMessage(m.role, m.text) for m in past),
        ChatMessage("user", user_text),
    ]
