"""The voice worker's Prometheus metrics, and the few functions that record them.

Every label has a bounded set of values (a route template, a status code, a stage, a
provider or cache named in the configuration, an error code written in the code);
never a session id, a text or a user. With several worker processes each one writes
its own values under PROMETHEUS_MULTIPROC_DIR (voice_engine.commands.serve_worker sets
it) and one scrape of /metrics adds them up (observability.exposition); the gauges say
how: `livesum` adds the live processes, `liveall` keeps one series per live process.
Transport-free: the HTTP middleware, the error table and the domain call these."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping

from prometheus_client import Counter, Gauge, Histogram

from shared.metrics import LATENCY_BUCKETS

HTTP_REQUESTS = Counter(
    "voice_worker_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "voice_worker_http_request_duration_seconds",
    "HTTP request latency, from the request's arrival to the last byte of its response.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_PROGRESS = Gauge(
    "voice_worker_http_requests_in_progress",
    "HTTP requests being answered now.",
    multiprocess_mode="livesum",
)
TURN_STAGES = Histogram(
    "voice_worker_turn_stage_seconds",
    "Seconds from the start of a voice turn to the end of each stage: stt, "
    "chat_first_token, chat (reply written), first_audio, tts_first_audio (first word "
    "written to its first audio), tts, store (its own duration), total.",
    ["stage"],
    buckets=LATENCY_BUCKETS,
)
TURNS = Counter(
    "voice_worker_turns",
    "Voice turns stored, by input (text, audio) and whether the reply came from the "
    "response cache.",
    ["input", "cached"],
)
UPSTREAM_ERRORS = Counter(
    "voice_worker_upstream_errors",
    "Failures of a provider (model server, chat, cloud speech APIs, the session store), "
    "by provider, error code and the HTTP status the client got.",
    ["provider", "code", "status"],
)
UPLOAD_REJECTIONS = Counter(
    "voice_worker_upload_rejections",
    "Audio uploads refused before any model ran, by reason (the error code).",
    ["reason"],
)
RATE_LIMITED = Counter(
    "voice_worker_rate_limited",
    "Requests refused with 503 because this process had as much work as it admits.",
    ["reason"],
)
QUOTA_REFUSALS = Counter(
    "voice_worker_quota_refusals",
    "Requests refused with 429 because the caller spent a budget of the rate limits: "
    "requests, audio_seconds, characters or connections (realtime WebSockets).",
    ["budget"],
)
RATE_LIMIT_STORAGE_ERRORS = Counter(
    "voice_worker_rate_limit_storage_errors",
    "Times the rate limits' storage (Redis) could not be reached; what happened to the "
    "request then is VOICE_RATE_LIMIT__ON_STORAGE_ERROR.",
)
IDEMPOTENCY = Counter(
    "voice_worker_idempotent_requests",
    "Requests with an Idempotency-Key, by outcome: new (ran), replayed (the stored "
    "result), in_progress (409), mismatch (422, another body).",
    ["outcome"],
)
SPECULATIVE_TOKENS = Counter(
    "voice_worker_speculative_tokens",
    "Chat tokens written ahead of a realtime turn's end (conversation.speculation; one "
    "a chat delta, one a token for the local model), by outcome: used (the turn's reply "
    "took them) or wasted (the speaker went on, or the turn asked something else).",
    ["outcome"],
)
SPECULATIVE_REPLIES = Counter(
    "voice_worker_speculative_replies",
    "Replies written ahead of a realtime turn's end, by outcome: used or wasted.",
    ["outcome"],
)
REALTIME_CONNECTIONS = Gauge(
    "voice_worker_realtime_connections",
    "Realtime (WebSocket) connections open now.",
    multiprocess_mode="livesum",
)
RESIDENT_MEMORY = Gauge(
    "voice_worker_process_resident_memory_bytes",
    "Resident memory of each worker process (sampled at most once a second).",
    multiprocess_mode="liveall",
)

#: the stages a turn reports (conversation.engine), in order
TURN_STAGE_NAMES = (
    "stt", "chat_first_token", "chat", "first_audio", "tts_first_audio", "tts", "store", "total",
)  # fmt: skip


def observe_turn(timings: Mapping[str, float], spoken: bool, cached: bool) -> None:
    """A stored turn: its stage timings (seconds) and what kind of turn it was."""
    for stage in TURN_STAGE_NAMES:
        seconds = timings.get(stage)
        if seconds is not None:
            TURN_STAGES.labels(stage).observe(max(0.0, seconds))
    TURNS.labels("audio" if spoken else "text", str(cached).lower()).inc()


def observe_error(status: int, code: str | None, provider: str | None, busy: bool) -> None:
    """An error answered (voice_worker.http.errors): upstream failures by provider,
    and the worker's own admission limits."""
    if provider is not None:
        UPSTREAM_ERRORS.labels(provider, code or "upstream_error", str(status)).inc()
    if busy:
        RATE_LIMITED.labels(code or "busy").inc()


def upload_rejected(reason: str) -> None:
    UPLOAD_REJECTIONS.labels(reason).inc()


def idempotency(outcome: str) -> None:
    IDEMPOTENCY.labels(outcome).inc()


@contextlib.contextmanager
def realtime_connection() -> Iterator[None]:
    """Counts a realtime connection while the block runs."""
    REALTIME_CONNECTIONS.inc()
    try:
        yield
    finally:
        REALTIME_CONNECTIONS.dec()


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_sampled_at = 0.0


def sample_memory(force: bool = False) -> None:
    """This process's resident memory into its gauge, at most once a second."""
    global _sampled_at
    now = time.monotonic()
    if not force and now - _sampled_at < 1.0:
        return
    _sampled_at = now
    try:
        with open("/proc/self/statm", "rb") as statm:
            resident_pages = int(statm.read().split()[1])
    except (OSError, IndexError, ValueError):
        return  # not Linux: the gauge stays absent
    RESIDENT_MEMORY.set(resident_pages * _PAGE)


def speculative(outcome: str, tokens: int) -> None:
    """A reply written ahead, used or wasted, and its tokens."""
    SPECULATIVE_REPLIES.labels(outcome).inc()
    SPECULATIVE_TOKENS.labels(outcome).inc(tokens)
