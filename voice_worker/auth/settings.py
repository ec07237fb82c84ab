"""Authentication settings (VOICE_AUTH__*), nested in the worker's Settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from voice_worker.auth.principal import MAX_USER_CHARS

Mode = Literal["none", "api_key", "jwt"]
Algorithm = Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"]
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
MIN_HMAC_SECRET_BYTES = 32  # RFC 7518 3.2: a key at least as long as the hash


class AuthSettings(BaseModel):
    """Who may call the worker (VOICE_AUTH__*). `none` is the embedded local setup: every
    caller is `anonymous`, and the worker refuses to start that way on an address other
    than loopback unless allow_anonymous is set."""

    mode: Mode = Field(
        "none", description="none (no authentication), api_key or jwt (see the README)."
    )
    allow_anonymous: bool = Field(
        False,
        description="Start with mode none on an address other than loopback (127.0.0.1, "
        "::1): anyone who reaches the port is the same anonymous user.",
    )
    api_keys: dict[str, str] = Field(
        default_factory=dict,
        description="mode api_key: a JSON map of user id to the SHA-256 (hex) of that "
        "user's key, never the key itself: `voice-engine keys new USER` prints both.",
    )
    admin_users: list[str] = Field(
        default_factory=list,
        description="Users who see every user's sessions (a JWT may also carry the "
        "voice:admin scope or role).",
    )
    jwt_algorithm: Algorithm = Field(
        "HS256",
        description="mode jwt: the one algorithm accepted: HS256/384/512 with jwt_secret, "
        "RS*/ES* with jwt_public_key_file or jwt_jwks_file.",
    )
    jwt_secret: SecretStr = Field(
        SecretStr(""), description="mode jwt, HS*: the shared secret (at least 32 bytes)."
    )
    jwt_public_key_file: Path | None = Field(
        None, description="mode jwt, RS*/ES*: the issuer's public key (PEM)."
    )
    jwt_jwks_file: Path | None = Field(
        None,
        description="mode jwt, RS*/ES*: the issuer's keys as a JWKS file (read at start, "
        "never fetched), picked by the token's `kid`.",
    )
    jwt_audience: str = Field("", description="mode jwt: the `aud` required (empty: any).")
    jwt_issuer: str = Field("", description="mode jwt: the `iss` required (empty: any).")
    jwt_leeway_seconds: float = Field(
        30.0, ge=0, le=300, description="Clock skew allowed on exp, nbf and iat."
    )
    client_secret_key: SecretStr = Field(
        SecretStr(""),
        description="Signs the short-lived client secrets of POST /v1/realtime/client_secrets "
        "(set the same value on every worker; empty: a random key per process, so a "
        "secret works only on the process that made it).",
    )
    client_secret_seconds: int = Field(
        60, ge=10, le=7200, description="Default life of a client secret, in seconds."
    )

    @model_validator(mode="after")
    def _complete(self) -> AuthSettings:
        for user, digest in self.api_keys.items():
            if not user or len(user) > MAX_USER_CHARS:
                raise ValueError(f"api_keys: a user id has 1 to {MAX_USER_CHARS} characters")
            if not SHA256_HEX.match(digest):
                raise ValueError(
                    f"api_keys[{user!r}]: give the SHA-256 of the key as 64 lowercase hex "
                    "digits, never the key (`voice-engine keys new USER`)"
                )
        if self.mode == "api_key" and not self.api_keys:
            raise ValueError("mode api_key needs VOICE_AUTH__API_KEYS")
        if self.mode == "jwt":
            self._check_jwt()
        return self

    def _check_jwt(self) -> None:
        if self.jwt_algorithm.startswith("HS"):
            secret = self.jwt_secret.get_secret_value().encode()
            if len(secret) < MIN_HMAC_SECRET_BYTES:
                raise ValueError(
                    f"{self.jwt_algorithm} needs VOICE_AUTH__JWT_SECRET of at least "
                    f"{MIN_HMAC_SECRET_BYTES} bytes"
                )
            if self.jwt_public_key_file or self.jwt_jwks_file:
                raise ValueError(f"{self.jwt_algorithm} takes jwt_secret, not a public key")
            return
        if (self.jwt_public_key_file is None) == (self.jwt_jwks_file is None):
            raise ValueError(
                f"{self.jwt_algorithm} needs exactly one of VOICE_AUTH__JWT_PUBLIC_KEY_FILE "
                "and VOICE_AUTH__JWT_JWKS_FILE"
            )
