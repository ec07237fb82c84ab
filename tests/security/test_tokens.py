"""Authentication, unit by unit: API keys (hash only, constant-time compare), JWT
(HS256, RS256 from a PEM, ES256 from a JWKS) with every edge the issue lists, client
secrets, the settings' refusals and the rule against serving anonymously in public."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.security.tokens import (
    AUDIENCE,
    ISSUER,
    SECRET,
    KeyPair,
    claims,
    ec_pair,
    forge_hmac,
    hs256,
    rsa_pair,
    unsigned,
    write_jwks,
)
from voice_worker.auth.api_keys import ApiKeys, hash_key, new_key
from voice_worker.auth.authenticator import Authenticator, Credentials
from voice_worker.auth.errors import Unauthenticated
from voice_worker.auth.exposure import ExposedWithoutAuth, check_exposure
from voice_worker.auth.principal import ANONYMOUS, Principal
from voice_worker.auth.settings import AuthSettings


@pytest.fixture(scope="module")
def rsa() -> KeyPair:
    return rsa_pair()


def jwt_auth(**settings: object) -> Authenticator:
    base: dict[str, object] = {
        "mode": "jwt",
        "jwt_secret": SECRET,
        "jwt_audience": AUDIENCE,
        "jwt_issuer": ISSUER,
        "jwt_leeway_seconds": 5,
    }
    return Authenticator(AuthSettings.model_validate({**base, **settings}))


def bearer(token: str, websocket: bool = False) -> Credentials:
    return Credentials.of(f"Bearer {token}", "", websocket=websocket)


def refused(auth: Authenticator, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        auth.authenticate(bearer(token))
    return caught.value


# -- API keys ------------------------------------------------------------------------
def test_api_keys_are_checked_by_hash_and_name_their_user() -> None:
    alice, bob = new_key(), new_key()
    assert alice != bob and len(alice) > 40
    keys = ApiKeys({"alice": hash_key(alice), "bob": hash_key(bob)}, frozenset({"bob"}))
    assert keys.verify(alice) == Principal("alice")
    assert keys.verify(bob) == Principal("bob", admin=True)
    assert keys.verify(alice + "x") is None
    assert keys.verify("") is None
    auth = Authenticator(AuthSettings(mode="api_key", api_keys={"alice": hash_key(alice)}))
    assert auth.authenticate(Credentials.of(f"Bearer {alice}", "")).user == "alice"
    assert auth.authenticate(Credentials.of("", alice)).user == "alice"  # X-API-Key
    assert refused(auth, "ve_wrong").code == "invalid_api_key"
    with pytest.raises(Unauthenticated) as caught:
        auth.authenticate(Credentials.of("", ""))
    assert caught.value.code == "missing_credentials" and not caught.value.presented


def test_settings_take_hashes_never_keys_and_need_what_the_mode_needs(tmp_path: Path) -> None:
    key = new_key()
    with pytest.raises(ValidationError, match="never the key"):
        AuthSettings(mode="api_key", api_keys={"alice": key})
    with pytest.raises(ValidationError, match="needs VOICE_AUTH__API_KEYS"):
        AuthSettings(mode="api_key")
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        AuthSettings(mode="jwt", jwt_secret="short")
    with pytest.raises(ValidationError, match="exactly one"):
        AuthSettings(mode="jwt", jwt_algorithm="RS256")
    with pytest.raises(ValidationError, match="not a public key"):
        AuthSettings(mode="jwt", jwt_secret=SECRET, jwt_public_key_file=tmp_path / "k.pem")


# -- JWT: HS256 ------------------------------------------------------------------------
def test_a_valid_token_names_its_user_and_admin_scopes() -> None:
    auth = jwt_auth(admin_users=["carol"])
    assert auth.authenticate(bearer(hs256("alice"))) == Principal("alice")
    assert auth.authenticate(bearer(hs256("alice", scope="read voice:admin"))).admin
    assert auth.authenticate(bearer(hs256("alice", scope=["voice:admin"]))).admin
    assert auth.authenticate(bearer(hs256("alice", roles=["voice:admin"]))).admin
    assert not auth.authenticate(bearer(hs256("alice", scope="voice:admins"))).admin
    assert auth.authenticate(bearer(hs256("carol"))).admin  # VOICE_AUTH__ADMIN_USERS


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (hs256(secret="another-secret-of-at-least-thirty-two-bytes"), "signature"),
        (hs256(exp=int(time.time()) - 60), "expired"),
        (hs256(nbf=int(time.time()) + 7200), "not valid yet"),  # at run time too
        (hs256(iat=int(time.time()) + 7200), "not valid yet"),
        (hs256(aud="someone-else"), "audience"),
        (hs256(aud=None), "'aud'"),
        (hs256(iss="https://evil.example"), "issuer"),
        (hs256(exp=None), "'exp'"),
        (hs256(nbf=None), "'nbf'"),
        (hs256(iat=None), "'iat'"),
        (hs256(sub=None), "'sub'"),
        (hs256(sub="x" * 201), "sub"),
        (unsigned(), "algorithm"),
        ("not.a.jwt", "not a valid JWT"),
        ("garbage", "not a valid JWT"),
    ],
    ids=[
        "forged",
        "expired",
        "nbf-future",
        "iat-future",
        "wrong-audience",
        "no-audience",
        "wrong-issuer",
        "no-exp",
        "no-nbf",
        "no-iat",
        "no-sub",
        "sub-too-long",
        "alg-none",
        "three-bad-parts",
        "one-part",
    ],
)
def test_bad_tokens_are_refused_with_a_reason(token: str, reason: str) -> None:
    error = refused(jwt_auth(), token)
    assert error.code == "invalid_token" and error.presented
    assert reason in error.message
    assert token not in error.message


def test_small_clock_skew_is_tolerated() -> None:
    auth = jwt_auth()  # leeway 5 s
    assert auth.authenticate(bearer(hs256(exp=int(time.time()) - 2))).user == "alice"
    assert auth.authenticate(bearer(hs256(nbf=int(time.time()) + 2))).user == "alice"


def test_audience_and_issuer_are_optional_when_not_configured() -> None:
    auth = jwt_auth(jwt_audience="", jwt_issuer="")
    assert auth.authenticate(bearer(hs256(aud=None, iss=None))).user == "alice"
    assert auth.authenticate(bearer(hs256(aud="anything"))).user == "alice"


# -- JWT: RS256 and ES256 ----------------------------------------------------------------
def test_rs256_with_a_public_key_refuses_algorithm_confusion(rsa: KeyPair, tmp_path: Path) -> None:
    pem = tmp_path / "public.pem"
    pem.write_bytes(rsa.public_pem)
    auth = jwt_auth(jwt_algorithm="RS256", jwt_secret="", jwt_public_key_file=str(pem))
    assert auth.authenticate(bearer(rsa.sign("alice"))).user == "alice"
    # the attack: an HS256 token whose HMAC key is the server's public key (PEM)
    confused = forge_hmac(claims("mallory", scope="voice:admin"), rsa.public_pem)
    assert "algorithm" in refused(auth, confused).message
    assert "algorithm" in refused(auth, hs256("mallory")).message
    assert "algorithm" in refused(auth, unsigned("mallory")).message
    other = rsa_pair()
    assert "signature" in refused(auth, other.sign("mallory")).message


def test_a_jwks_file_picks_the_key_by_kid(rsa: KeyPair, tmp_path: Path) -> None:
    ec_one, ec_two = ec_pair(), ec_pair()
    jwks = write_jwks(tmp_path / "jwks.json", {"one": ec_one, "two": ec_two})
    auth = jwt_auth(jwt_algorithm="ES256", jwt_secret="", jwt_jwks_file=str(jwks))
    assert auth.authenticate(bearer(ec_one.sign("alice", kid="one"))).user == "alice"
    assert auth.authenticate(bearer(ec_two.sign("bob", kid="two"))).user == "bob"
    assert "kid" in refused(auth, ec_one.sign("alice", kid="three")).message
    assert "signature" in refused(auth, ec_one.sign("alice", kid="two")).message
    assert "algorithm" in refused(auth, rsa.sign("alice", kid="one")).message
    confused = forge_hmac(claims("mallory"), ec_one.public_pem)
    assert "algorithm" in refused(auth, confused).message


# -- client secrets and the anonymous mode ---------------------------------------------
def test_client_secrets_open_websockets_only_and_expire() -> None:
    auth = jwt_auth(client_secret_key="k" * 32, client_secret_seconds=60)
    secret = auth.client_secrets.mint(Principal("alice", admin=True))
    assert secret.value.startswith("ek_") and secret.expires_at > time.time() + 50
    with pytest.raises(Unauthenticated, match="realtime session only"):
        auth.authenticate(bearer(secret.value))  # an HTTP request (the secret is not spent)
    principal = auth.authenticate(bearer(secret.value, websocket=True))
    assert principal == Principal("alice", admin=True)
    with pytest.raises(Unauthenticated, match="has been used"):  # one session per secret
        auth.authenticate(bearer(secret.value, websocket=True))
    another = auth.client_secrets.mint(Principal("alice"), session='{"type":"realtime"}')
    subprotocols = f"realtime, openai-insecure-api-key.{another.value}"
    opened = auth.authenticate(Credentials.of("", "", subprotocols, websocket=True))
    assert opened.user == "alice" and opened.client_session == '{"type":"realtime"}'
    other = jwt_auth(client_secret_key="x" * 32)  # a worker with another key
    with pytest.raises(Unauthenticated, match="not valid"):
        other.authenticate(bearer(secret.value, websocket=True))
    expired = auth.client_secrets.mint(Principal("alice"), seconds=-30)
    with pytest.raises(Unauthenticated, match="expired"):
        auth.authenticate(bearer(expired.value, websocket=True))
    # a long-lived token is no client secret, even in the subprotocol
    token = Credentials.of("", "", f"openai-insecure-api-key.{hs256()}", websocket=True)
    with pytest.raises(Unauthenticated):
        auth.authenticate(token)


def test_mode_none_is_anonymous_and_only_on_loopback_unless_allowed() -> None:
    auth = Authenticator(AuthSettings())
    assert auth.authenticate(Credentials.of("", "")) is ANONYMOUS
    assert auth.authenticate(bearer("whatever")) is ANONYMOUS
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_exposure(AuthSettings(), host)
    for host in ("0.0.0.0", "::", "10.0.0.5", "example.com", ""):
        with pytest.raises(ExposedWithoutAuth, match="ALLOW_ANONYMOUS"):
            check_exposure(AuthSettings(), host)
    check_exposure(AuthSettings(allow_anonymous=True), "0.0.0.0")
    check_exposure(AuthSettings(mode="jwt", jwt_secret=SECRET), "0.0.0.0")
