"""The store capability: sessions, their messages (each turn written whole), and the
model server's TTS models. Records are plain dataclasses; settings a pydantic model so
that the HTTP layer validates them with the same rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, Field, Strict

from shared.audio.formats import AudioFormat
from shared.limits import (
    MAX_LANGUAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_SPEED,
    MIN_SPEED,
)
from shared.speakable import PlainStr

T = TypeVar("T")
Quality = Literal["low", "standard", "high"]
#: the design's quality settings: the output sample rate (0: the voice's own rate)
QUALITY_SAMPLE_RATES: dict[str, int] = {"low": 16_000, "standard": 0, "high": 44_100}


class SessionSettings(BaseModel):
    """Per-session voice and chat settings (every field optional in a PATCH)."""

    voice: PlainStr = Field(
        "", max_length=MAX_NAME_CHARS, description="TTS voice ('' = the default)."
    )
    tts_model: PlainStr = Field(
        "", max_length=MAX_NAME_CHARS, description="TTS model ('' = the model server's default)."
    )
    audio_format: AudioFormat = Field(AudioFormat.MP3, description="Format of the reply audio.")
    speed: Annotated[float, Strict()] = Field(
        1.0, ge=MIN_SPEED, le=MAX_SPEED, description="Speaking rate."
    )
    quality: Quality = Field(
        "standard", description="low: 16 kHz; standard: the voice's own rate; high: 44.1 kHz."
    )
    analyst_role: PlainStr = Field(
        "", max_length=MAX_NAME_CHARS, description="Persona of the assistant ('' = the default)."
    )
    language: PlainStr = Field(
        "en", max_length=MAX_LANGUAGE_CHARS, description="Language of what the user says."
    )

    @property
    def sample_rate(self) -> int:
        return QUALITY_SAMPLE_RATES[self.quality]


#: the owner of sessions made without authentication (auth.principal.ANONYMOUS_USER)
ANONYMOUS_OWNER = "anonymous"


@dataclass(frozen=True)
class SessionRecord:
    id: str
    title: str
    settings: SessionSettings
    created_at: float  # unix seconds
    updated_at: float
    owner: str = ANONYMOUS_OWNER  # the user id whose session it is


class TurnLeaseLost(Exception):
    """A turn's lease ran out and another turn of the session took it: its write is
    refused (the lease token fences it)."""


@dataclass(frozen=True)
class NewMessage:
    role: Literal["user", "assistant"]
    text: str
    thinking: str = ""
    transcript: str | None = None  # what STT heard (user messages from audio)
    audio_format: str | None = None
    audio_duration: float | None = None  # seconds
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    #: an assistant's: the tool calls made for it, with their outputs, as given (JSON)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class MessageRecord(NewMessage):
    id: int = 0
    session_id: str = ""
    created_at: float = 0.0


@dataclass(frozen=True)
class TTSModelRecord:
    name: str
    backend: str
    sample_rate: int
    is_default: bool
    state: str
    synced_at: float = 0.0


@dataclass(frozen=True)
class KeyClaim:
    """What the store says of an Idempotency-Key asked for: `claimed` (this request
    runs, as `owner`), `running` (another request holds it), `done` (its `result`),
    `mismatch` (it was used with another request)."""

    state: Literal["claimed", "running", "done", "mismatch"]
    owner: str = ""
    result: str | None = None  # JSON, when done


class KeyLost(Exception):
    """A request's claim on its Idempotency-Key was taken over (its lease lapsed):
    what it would have stored is not."""


@dataclass(frozen=True)
class KeyReceipt:
    """Mark key `key`, held by `owner`, done with `result` (JSON) in the transaction
    that stores what the request made; KeyLost (nothing stored) when the claim was
    lost (its lease lapsed and another request took it over)."""

    key: str
    owner: str
    result: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@runtime_checkable
@runtime_checkable
class SessionLocks(Protocol):
    """Locks tied to this worker's connection to the database (PostgreSQL advisory
    locks): the database frees them the moment the worker is gone."""

    async def try_lock(self, name: str) -> bool: ...

    async def unlock(self, name: str) -> None: ...


class ChatStore(Protocol):
    """Sessions belong to an owner. Every read and write of one session takes an
    optional `owner`: given, a session of another owner is treated exactly as a missing
    one (None, False, LookupError); None (an admin) reaches every owner's.
    `session_locks`: the store's locks tied to this worker's database session, None
    where it has none (SQLite)."""

    session_locks: SessionLocks | None

    async def create_session(
        self,
        settings: SessionSettings,
        title: str = "",
        owner: str = ANONYMOUS_OWNER,
        receipt: KeyReceipt | None = None,
    ) -> SessionRecord:
        """With a `receipt`, its key is done with the session (its fields in the
        result) in the same transaction."""
        ...

    async def get_session(
        self, session_id: str, owner: str | None = None
    ) -> SessionRecord | None: ...

    async def list_sessions(
        self, limit: int = 50, cursor: str | None = None, owner: str | None = None
    ) -> Page[SessionRecord]: ...

    async def update_session(
        self,
        session_id: str,
        settings: SessionSettings,
        title: str | None = None,
        owner: str | None = None,
    ) -> SessionRecord | None: ...

    async def delete_session(self, session_id: str, owner: str | None = None) -> bool: ...

    async def acquire_turn(
        self, session_id: str, token: str, seconds: float, force: bool = False
    ) -> bool:
        """Take the session's turn lease for `seconds` unless another unexpired one holds
        it (False); with `force` (the caller holds the session's turn lock: no live
        worker runs a turn of it), whatever holds it. LookupError when the session does
        not exist."""
        ...

    async def renew_turn(self, session_id: str, token: str, seconds: float) -> bool:
        """Extend the lease `token` holds; False when it no longer holds it."""
        ...

    async def release_turn(self, session_id: str, token: str) -> None: ...

    async def add_turn(
        self,
        session_id: str,
        user: NewMessage,
        assistant: NewMessage,
        receipt: KeyReceipt | None = None,
        lease: str | None = None,
    ) -> tuple[MessageRecord, MessageRecord]:
        """Both messages in one transaction: a turn is stored whole or not at all.
        LookupError when the session does not exist (any more). With a `receipt`, its
        key is done in the same transaction, the message ids added to its result; with
        `lease`, the same transaction releases that turn lease, and TurnLeaseLost when it
        is not held."""
        ...

    async def claim_key(
        self,
        key: str,
        fingerprint: str,
        lease_seconds: float,
        ttl_seconds: float,
        force: bool = False,
    ) -> KeyClaim:
        """Claim an Idempotency-Key for a request (`fingerprint`: what it asks); a
        running claim whose lease lapsed (its worker died) is taken over, and with
        `force` (the caller holds the key's session lock: no live worker runs it) one
        whose lease has not lapsed yet too; an expired key is reused."""
        ...

    async def renew_key(self, key: str, owner: str, lease_seconds: float) -> bool:
        """Extend the lease of a running claim; False when it is no longer ours."""
        ...

    async def release_key(self, key: str, owner: str) -> None:
        """Forget a running claim (its request failed: a retry runs anew)."""
        ...

    async def update_reply(
        self, session_id: str, message_id: int, text: str, audio_duration: float
    ) -> bool:
        """Cut a stored assistant message to `text` (what its listener heard before
        stopping it, `audio_duration` seconds). False when the session has no such
        assistant message."""
        ...

    async def list_messages(
        self, session_id: str, limit: int = 50, cursor: str | None = None
    ) -> Page[MessageRecord]: ...

    async def count_messages(self, session_id: str) -> int: ...

    async def recent_messages(self, session_id: str, limit: int) -> list[MessageRecord]:
        """The last `limit` messages, oldest first."""
        ...

    async def replace_tts_models(self, models: Sequence[TTSModelRecord]) -> None: ...

    async def list_tts_models(self) -> list[TTSModelRecord]: ...

    async def ping(self) -> None:
        """Raise if the database cannot be reached (for /readyz)."""
        ...

    async def close(self) -> None: ...
