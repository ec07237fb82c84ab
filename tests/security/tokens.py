"""Tokens for the tests: HS256 with a test secret, RS256 and ES256 key pairs made here
(cryptography), and every kind of bad token the worker must refuse."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SECRET = "test-secret-of-at-least-thirty-two-bytes!"
AUDIENCE = "voice-engine-tests"
ISSUER = "https://issuer.example"


def claims(sub: str | None = "alice", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    found: dict[str, Any] = {
        "sub": sub,
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,  # module-level tokens outlive a whole test run
    }
    found.update(overrides)
    return {k: v for k, v in found.items() if v is not None}


def hs256(sub: str | None = "alice", secret: str = SECRET, **overrides: Any) -> str:
    return jwt.encode(claims(sub, **overrides), secret, "HS256")


def unsigned(sub: str = "alice") -> str:
    """`alg: none`, as an attacker writes it (PyJWT refuses to make one)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims(sub))}."


def forge_hmac(token_claims: dict[str, Any], key: bytes, alg: str = "HS256") -> str:
    """An HS256 token "signed" with `key` (e.g. the server's RSA public key, PEM): the
    algorithm-confusion attack. Built by hand (PyJWT refuses a PEM as an HMAC key)."""
    import hashlib
    import hmac

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    header = part(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = part(json.dumps(token_claims).encode())
    signature = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{part(signature)}"


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    public_pem: bytes
    algorithm: str

    def sign(self, sub: str = "alice", kid: str | None = None, **overrides: Any) -> str:
        headers = {"kid": kid} if kid else None
        return jwt.encode(claims(sub, **overrides), self.private_pem, self.algorithm, headers)

    def jwk(self, kid: str) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        key = algorithm.prepare_key(self.public_pem)
        found: dict[str, Any] = json.loads(algorithm.to_jwk(key))
        return {**found, "kid": kid, "alg": self.algorithm, "use": "sig"}


def rsa_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _pair(key, "RS256")


def ec_pair() -> KeyPair:
    return _pair(ec.generate_private_key(ec.SECP256R1()), "ES256")


def _pair(key: Any, algorithm: str) -> KeyPair:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(private, public, algorithm)


def write_jwks(path: Path, pairs: dict[str, KeyPair]) -> Path:
    path.write_text(json.dumps({"keys": [pair.jwk(kid) for kid, pair in pairs.items()]}))
    return path
