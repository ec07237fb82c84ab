"""JWT verification with PyJWT. One algorithm is configured and only it is accepted, so
`alg: none` and algorithm confusion (an HS256 token "signed" with the RSA public key) are
refused before any signature is checked; exp, nbf, iat and sub are required, checked
with a small leeway; audience and issuer when configured. `sub` is the user; a `scope`
(space-separated or a list) or `roles` claim holding voice:admin makes an admin. Keys
come from configuration or files read once at start, never from the network."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import jwt

from voice_worker.auth.errors import Unauthenticated
from voice_worker.auth.principal import ADMIN_SCOPE, MAX_USER_CHARS, Principal
from voice_worker.auth.settings import AuthSettings

REQUIRED = ["exp", "iat", "nbf", "sub"]
_REASONS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet (nbf or iat in the future)"),
    (jwt.InvalidAudienceError, "the token is for another audience"),
    (jwt.InvalidIssuerError, "the token is from another issuer"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not the one accepted"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
]


def _invalid(message: str) -> Unauthenticated:
    return Unauthenticated(message, "invalid_token")


class JwtVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self.algorithm = settings.jwt_algorithm
        self.audience = settings.jwt_audience or None
        self.issuer = settings.jwt_issuer or None
        self.leeway = settings.jwt_leeway_seconds
        self.admins = frozenset(settings.admin_users)
        self._key: Any = None
        self._jwks: jwt.PyJWKSet | None = None
        if self.algorithm.startswith("HS"):
            self._key = settings.jwt_secret.get_secret_value().encode()
        elif settings.jwt_public_key_file is not None:
            self._key = settings.jwt_public_key_file.read_text()
        elif settings.jwt_jwks_file is not None:
            self._jwks = jwt.PyJWKSet.from_dict(json.loads(settings.jwt_jwks_file.read_text()))

    def _key_for(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _invalid("the token is not a valid JWT") from None
        if header.get("alg") != self.algorithm:  # `none`, or HS256 against a public key
            raise _invalid("the token's algorithm is not the one accepted")
        if self._jwks is None:
            return self._key
        kid = header.get("kid")
        keys = self._jwks.keys
        if kid is None and len(keys) == 1:
            return keys[0].key
        for key in keys:
            if key.key_id == kid:
                return key.key
        raise _invalid("the token's key (kid) is not among the configured keys")

    def verify(self, token: str) -> Principal:
        key = self._key_for(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED, "verify_aud": self.audience is not None},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise _invalid(f"the token has no {exc.claim!r} claim") from None
        except jwt.InvalidTokenError as exc:
            reason = next((text for kind, text in _REASONS if isinstance(exc, kind)), None)
            raise _invalid(reason or "the token is not a valid JWT") from None
        except (jwt.PyJWKError, ValueError, TypeError):  # a key of the wrong kind
            raise _invalid("the token does not verify with the configured key") from None
        return self.principal(claims)

    def principal(self, claims: dict[str, Any]) -> Principal:
        user = claims.get("sub")
        if not isinstance(user, str) or not 0 < len(user) <= MAX_USER_CHARS:
            raise _invalid(f"the token's sub is not a user id of 1 to {MAX_USER_CHARS} characters")
        admin = user in self.admins or ADMIN_SCOPE in _names(claims.get("scope"))
        admin = admin or ADMIN_SCOPE in _names(claims.get("roles"))
        return Principal(user, admin=admin)


def _names(value: object) -> set[str]:
    """A scope claim: "a b c" (RFC 8693) or ["a", "b"]."""
    if isinstance(value, str):
        return set(value.split())
    if isinstance(value, Iterable) and not isinstance(value, bytes | dict):
        return {item for item in value if isinstance(item, str)}
    return set()
