"""The worker's errors, as the domain raises them: each knows its HTTP status and its
OpenAI-style `type`/`code`, so transports render them without knowing the cause.
Providers raise these too (they import nothing from FastAPI)."""

from __future__ import annotations


class VoiceError(Exception):
    status = 400
    type = "invalid_request_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(VoiceError):
    """The request itself is wrong (bad parameter, unreadable audio): 400."""


class PayloadTooLarge(VoiceError):
    status = 413


class NotFound(VoiceError):
    status = 404
    type = "not_found_error"


class Busy(VoiceError):
    """This worker has as much work admitted as it allows: 503, retry shortly."""

    status = 503
    type = "server_busy"


class UpstreamError(VoiceError):
    """A provider (model server, OpenAI, Deepgram, ElevenLabs) failed: 502 when it
    answered wrongly (including rejecting our credentials), 503 when it is unavailable
    or rate limited (with Retry-After when it said when), 504 when it timed out."""

    status = 502
    type = "upstream_error"

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int = 502,
        code: str = "upstream_error",
        retry_after: float | None = None,
    ) -> None:
        headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after else {}
        super().__init__(f"{provider}: {message}", code=code, headers=headers)
        self.provider = provider
        self.status = status
        self.retry_after = retry_after


def upstream_for_status(
    provider: str, status: int, detail: str, retry_after: float | None = None
) -> VoiceError:
    """Our error for an HTTP status from a cloud provider."""
    detail = detail.strip()[:300] or "no detail"
    if status in (401, 403):
        return UpstreamError(
            provider,
            f"rejected the worker's credentials (HTTP {status}: {detail}); check its API key",
            code="upstream_auth_failed",
        )
    if status == 429:
        return UpstreamError(
            provider,
            f"rate limited the worker (HTTP 429: {detail})",
            status=503,
            code="upstream_rate_limited",
            retry_after=retry_after,
        )
    if status in (400, 404, 422):
        return InvalidRequest(
            f"{provider} rejected the request (HTTP {status}): {detail}", code="upstream_rejected"
        )
    if status == 504:
        return upstream_timeout(provider)
    return UpstreamError(
        provider, f"failed (HTTP {status}: {detail})", status=502, code="upstream_error"
    )


def upstream_timeout(provider: str) -> UpstreamError:
    return UpstreamError(provider, "did not answer in time", status=504, code="upstream_timeout")


def upstream_unreachable(provider: str, detail: str) -> UpstreamError:
    return UpstreamError(
        provider, f"unreachable ({detail})", status=503, code="upstream_unavailable"
    )


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def from_sdk_exception(provider: str, exc: BaseException) -> VoiceError:
    """Our error for whatever a cloud SDK raised: an HTTP status error (OpenAI's
    APIStatusError, Deepgram's ApiError, httpx's HTTPStatusError), a timeout, or a
    connection failure. Duck-typed, so this module imports no SDK."""
    if isinstance(exc, VoiceError):
        return exc
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", None) or getattr(response, "status_code", None)
    if isinstance(status, int):
        headers = getattr(exc, "headers", None) or getattr(response, "headers", None) or {}
        retry_after = parse_retry_after(_header(headers, "retry-after"))
        body = getattr(exc, "body", None)
        detail = _detail(body) or getattr(exc, "message", "") or str(exc)
        return upstream_for_status(provider, status, detail, retry_after)
    names = {cls.__name__ for cls in type(exc).__mro__}
    if any("Timeout" in name for name in names):
        return upstream_timeout(provider)
    return upstream_unreachable(provider, f"{type(exc).__name__}: {exc}")


def _header(headers: object, name: str) -> str | None:
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter(name) or getter(name.title())
    return str(value) if value is not None else None


def _detail(body: object) -> str:
    """The message inside the error bodies of OpenAI, Deepgram and ElevenLabs."""
    if isinstance(body, dict):
        for key in ("error", "err_msg", "detail", "message"):
            value = body.get(key)
            if isinstance(value, dict):
                return str(value.get("message") or value)
            if isinstance(value, list) and value:
                return "; ".join(str(item.get("msg", item)) for item in value if item)
            if value:
                return str(value)
    return str(body) if body else ""
