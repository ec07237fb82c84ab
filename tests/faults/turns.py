"""Clients for the fault tests: sessions taking typed turns through a URL, each turn
under its own Idempotency-Key and asked again (same key) until it is answered, or, as
most real clients do, asked once (with a key of its own, or with none) and failed
unless answered; and what the store holds afterwards."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

SESSIONS = "/api/voice/sessions"


@dataclass
class Outcome:
    """What the clients saw."""

    answers: dict[str, dict[str, object]] = field(default_factory=dict)  # text -> reply
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after_missing: int = 0  # 503s without Retry-After
    attempts: int = 0
    failed: list[str] = field(default_factory=list)  # asked once, not answered: why
    answered_at: list[float] = field(default_factory=list)  # time.monotonic() of each 200


async def take_turn(
    client: httpx.AsyncClient, session: str, text: str, outcome: Outcome, deadline: float
) -> None:
    """One turn, asked until answered (the same key every time), or the deadline."""
    headers = {"Idempotency-Key": f"turn-{uuid.uuid4()}"}
    while time.monotonic() < deadline:
        outcome.attempts += 1
        try:
            reply = await client.post(
                f"{SESSIONS}/{session}/text", json={"text": text}, headers=headers
            )
        except httpx.TransportError:
            outcome.statuses[0] += 1
            await asyncio.sleep(0.2)
            continue
        outcome.statuses[reply.status_code] += 1
        if reply.status_code == 200:
            outcome.answers[text] = reply.json()
            return
        if reply.status_code == 503 and "retry-after" not in reply.headers:
            outcome.retry_after_missing += 1
        await asyncio.sleep(float(reply.headers.get("retry-after", "0.5")))
    raise TimeoutError(f"turn {text!r} of session {session} never answered")


async def ask_once(
    client: httpx.AsyncClient,
    session: str,
    text: str,
    outcome: Outcome,
    keyed: bool,
    retried: frozenset[int] = frozenset(),
    deadline: float = 0.0,
) -> None:
    """One turn as a client that does not retry, with a key of its own (`keyed`) or
    with none: anything but 200 is a failed turn. With `retried`, it follows
    Retry-After on those statuses (the same key, if it has one) until `deadline`."""
    headers = {"Idempotency-Key": f"own-{uuid.uuid4()}"} if keyed else {}
    while True:
        outcome.attempts += 1
        try:
            reply = await client.post(
                f"{SESSIONS}/{session}/text", json={"text": text}, headers=headers
            )
        except httpx.TransportError as exc:
            outcome.statuses[0] += 1
            outcome.failed.append(f"{text}: {type(exc).__name__}")
            return
        outcome.statuses[reply.status_code] += 1
        if reply.status_code == 200:
            outcome.answers[text] = reply.json()
            outcome.answered_at.append(time.monotonic())
            return
        if reply.status_code not in retried:
            outcome.failed.append(f"{text}: {reply.status_code} {reply.text[:200]}")
            return
        if "retry-after" not in reply.headers:
            outcome.retry_after_missing += 1
        wait = float(reply.headers.get("retry-after", "1"))
        if time.monotonic() + wait > deadline:
            outcome.failed.append(f"{text}: still {reply.status_code} at the deadline")
            return
        await asyncio.sleep(wait)


async def conversations(
    url: str,
    sessions: list[str],
    turns: int,
    outcome: Outcome,
    timeout: float,
    once: dict[str, bool] | None = None,
) -> None:
    """Every session takes `turns` turns in order, the sessions concurrently. The
    sessions in `once` ask each turn once (their value: with a key of their own)."""
    deadline = time.monotonic() + timeout
    limits = httpx.Limits(max_connections=len(sessions) * 2)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def talk(session: str) -> None:
            for i in range(turns):
                text = f"Turn {i} of {session[:8]}."
                if once is not None and session in once:
                    await ask_once(client, session, text, outcome, once[session])
                else:
                    await take_turn(client, session, text, outcome, deadline)

        await asyncio.gather(*(talk(s) for s in sessions))


def stored_turns(url: str, session: str) -> list[dict[str, object]]:
    """The session's messages, in order."""
    reply = httpx.get(f"{url}{SESSIONS}/{session}/messages", params={"limit": 200}, timeout=30)
    assert reply.status_code == 200, reply.text
    messages: list[dict[str, object]] = reply.json()["items"]
    return messages


def assert_whole_and_once(url: str, sessions: list[str], turns: int, outcome: Outcome) -> None:
    """No half turns (user and assistant alternate), every turn stored exactly once
    and in order, and every answer the clients got is the stored one."""
    for session in sessions:
        messages = stored_turns(url, session)
        roles = [m["role"] for m in messages]
        assert roles == ["user", "assistant"] * (len(roles) // 2), f"half a turn: {roles}"
        asked = [m["text"] for m in messages if m["role"] == "user"]
        expected = [f"Turn {i} of {session[:8]}." for i in range(turns)]
        assert asked == expected, f"{session}: stored {asked}, asked {expected}"
        by_id = {m["id"]: m for m in messages}
        for text in expected:
            answer = outcome.answers[text]
            assert by_id[answer["user_message_id"]]["text"] == text
            assert by_id[answer["assistant_message_id"]]["text"] == answer["reply_text"]
