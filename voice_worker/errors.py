"""The worker's domain errors, transport-free: providers, the speech, transcription and
chat flows raise these; each transport renders them through its own table (HTTP:
voice_worker/http/errors.py). An error carries what a client program needs, not text
to be parsed: `param`, the request field at fault, and `code`, the reason (OpenAI's
`param` and `code`), plus `retry_after` seconds when waiting helps."""

from __future__ import annotations


class VoiceError(Exception):
    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.retry_after = retry_after


class InvalidRequest(VoiceError):
    """The request itself is wrong (bad parameter, unreadable audio, unspeakable text)."""


class PayloadTooLarge(InvalidRequest):
    """The upload is larger than this worker accepts."""


class KeyReused(InvalidRequest):
    """An Idempotency-Key sent again with a different request."""


class InProgress(VoiceError):
    """A request with the same Idempotency-Key is still running: retry shortly."""


class NotFound(VoiceError):
    """The session (or another named thing) does not exist."""


class Busy(VoiceError):
    """This worker has as much work admitted as it allows; retry shortly."""


class Conflict(VoiceError):
    """The thing is in use by another request (a session's turn in progress)."""


class RateLimited(VoiceError):
    """The caller spent its budget (requests, audio seconds, characters, connections);
    `retry_after` says when there is room again."""


class UpstreamError(VoiceError):
    """A provider (model server, OpenAI, Deepgram, ElevenLabs, a chat server) failed;
    the message starts with its name. The subclass says how."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        code: str = "upstream_error",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{provider}: {message}", code=code, retry_after=retry_after)
        self.provider = provider


class UpstreamFailed(UpstreamError):
    """It answered wrongly, failed, or rejected the worker's credentials."""


class UpstreamUnavailable(UpstreamError):
    """It is down, overloaded or rate limiting us: worth retrying later."""


class UpstreamTimeout(UpstreamError):
    """It did not answer in time."""


class StoreUnavailable(UpstreamUnavailable):
    """The session store (its database) did not answer: nothing was written."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            "session store", f"unavailable ({detail})", code="store_unavailable", retry_after=1
        )
