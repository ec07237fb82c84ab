"""Failures of the HTTP upstreams (OpenAI, Deepgram, ElevenLabs, Venice, any
OpenAI-compatible server) as the worker's errors: one rule for every path.

| upstream | ours |
| --- | --- |
| 401, 403 (our credentials) | UpstreamFailed `upstream_auth_failed` (502) |
| 408, 504, a timeout | UpstreamTimeout `upstream_timeout` (504) |
| 429 | UpstreamUnavailable `upstream_rate_limited` (503, its Retry-After) |
| 503, a refused or broken connection | UpstreamUnavailable `upstream_unavailable` (503) |
| 400, 404, 413, 415, 422 (it rejected the request) | InvalidRequest `upstream_rejected` (400) |
| 402, other 4xx, 5xx, a reply we cannot read | UpstreamFailed `upstream_error` (502) |

`is_transient` says which are worth a retry (tenacity's predicate for HTTP upstreams)."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping

import httpx
import openai

from voice_worker.errors import (
    InvalidRequest,
    UpstreamFailed,
    UpstreamTimeout,
    UpstreamUnavailable,
    VoiceError,
)

MAX_DETAIL = 300
#: statuses by which an upstream judged the request itself (its text, voice, audio,
#: or a prompt too long for the model): the client's to change, so a 400
REJECTED = frozenset({400, 404, 413, 415, 422})


def from_status(
    provider: str, status: int, detail: str, retry_after: float | None = None
) -> VoiceError:
    """Our error for an HTTP status an upstream answered with."""
    detail = detail.strip()[:MAX_DETAIL] or "no detail"
    if status in (401, 403):
        return UpstreamFailed(
            provider,
            f"rejected the worker's credentials (HTTP {status}: {detail}); check its API key",
            code="upstream_auth_failed",
        )
    if status in (408, 504):
        return UpstreamTimeout(
            provider, f"timed out (HTTP {status}: {detail})", code="upstream_timeout"
        )
    if status == 429:
        return UpstreamUnavailable(
            provider,
            f"rate limited the worker (HTTP 429: {detail})",
            code="upstream_rate_limited",
            retry_after=retry_after,
        )
    if status == 503:
        return UpstreamUnavailable(
            provider,
            f"unavailable (HTTP 503: {detail})",
            code="upstream_unavailable",
            retry_after=retry_after,
        )
    if status in REJECTED:
        return InvalidRequest(
            f"{provider} rejected the request (HTTP {status}): {detail}", code="upstream_rejected"
        )
    return UpstreamFailed(provider, f"failed (HTTP {status}: {detail})")


def timed_out(provider: str) -> UpstreamTimeout:
    return UpstreamTimeout(provider, "did not answer in time", code="upstream_timeout")


def unreachable(provider: str, detail: str) -> UpstreamUnavailable:
    return UpstreamUnavailable(provider, f"unreachable ({detail})", code="upstream_unavailable")


def from_openai(provider: str, exc: openai.OpenAIError) -> VoiceError:
    """Our error for whatever the `openai` SDK raised."""
    if isinstance(exc, openai.APITimeoutError):  # before APIConnectionError, its base
        return timed_out(provider)
    if isinstance(exc, openai.APIConnectionError):
        return unreachable(provider, exc.message)
    if isinstance(exc, openai.APIStatusError):
        detail = body_detail(exc.body) or exc.message
        return from_status(
            provider, exc.status_code, detail, retry_after_seconds(exc.response.headers)
        )
    return UpstreamFailed(provider, f"answered with something unreadable ({exc})")


def from_httpx(provider: str, exc: httpx.HTTPError) -> VoiceError:
    """Our error for an httpx failure (a status error, a timeout, a connection)."""
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return from_status(
            provider, response.status_code, response.text, retry_after_seconds(response.headers)
        )
    if isinstance(exc, httpx.TimeoutException):
        return timed_out(provider)
    return unreachable(provider, f"{type(exc).__name__}: {exc}")


def is_transient(error: BaseException) -> bool:
    """Worth another attempt (before any byte of the reply was used)."""
    return isinstance(error, (UpstreamUnavailable, UpstreamTimeout)) or (
        isinstance(error, UpstreamFailed) and error.code == "upstream_error"
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """When to retry, in seconds: `Retry-After` (seconds or an HTTP date), else the
    rate-limit reset OpenAI and Venice send (`x-ratelimit-reset-requests`: "7", "7s",
    "1m30s"); None when neither says."""
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
    reset = headers.get("x-ratelimit-reset-requests")
    return _duration(reset) if reset else None


def _duration(value: str) -> float | None:
    """ "7", "7s", "250ms", "1m30s" as seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", value.strip())
    if not parts or "".join(n + u for n, u in parts) != value.strip():
        return None
    scale = {"ms": 0.001, "s": 1.0, "": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(number) * scale[unit] for number, unit in parts)


def body_detail(body: object) -> str:
    """The message inside an upstream's JSON error body (OpenAI's, Deepgram's, ...)."""
    if isinstance(body, str):
        return body
    if isinstance(body, dict):
        for key in ("message", "error", "detail", "err_msg"):
            value = body.get(key)
            if isinstance(value, dict):
                return body_detail(value)
            if value:
                return str(value)
    return ""
