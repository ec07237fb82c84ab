"""The client side of the model server's security: `open_channel(target, options,
security)` is a grpc.aio channel with TLS when a CA file is given (the server's
certificate checked against it) and the shared token in the `authorization` metadata of
every call when one is set (`Bearer <token>`, added by a client interceptor, so it rides
on plaintext channels inside a private network too). The server side is
model_server.auth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

AUTHORIZATION = "authorization"

if TYPE_CHECKING:  # generic in the type stubs only
    UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor[Any, Any]
    UnaryStream = grpc.aio.UnaryStreamClientInterceptor[Any, Any]
    StreamUnary = grpc.aio.StreamUnaryClientInterceptor[Any, Any]
    StreamStream = grpc.aio.StreamStreamClientInterceptor[Any, Any]
else:
    UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor
    UnaryStream = grpc.aio.UnaryStreamClientInterceptor
    StreamUnary = grpc.aio.StreamUnaryClientInterceptor
    StreamStream = grpc.aio.StreamStreamClientInterceptor


@dataclass(frozen=True)
class ChannelSecurity:
    token: str = ""  # the model server's shared secret
    ca_file: Path | None = None  # TLS: the CA (or self-signed certificate) to trust
    server_name: str = ""  # TLS: the name to check in the certificate (default: the host)

    @property
    def tls(self) -> bool:
        return self.ca_file is not None


class _Token:
    """Adds `authorization: Bearer <token>` to a call's metadata."""

    def __init__(self, token: str) -> None:
        self._pair = (AUTHORIZATION, f"Bearer {token}")

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()), self._pair)
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


# One interceptor per call shape: a channel files each interceptor under the first
# shape it implements only (grpc.aio's Channel checks them with if/elif).
class _UnaryUnaryToken(_Token, UnaryUnary):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _UnaryStreamToken(_Token, UnaryStream):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _StreamUnaryToken(_Token, StreamUnary):
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


class _StreamStreamToken(_Token, StreamStream):
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


def bearer_token(token: str) -> list[Any]:
    """The interceptors that send `token` on every call, whatever its shape."""
    shapes = (_UnaryUnaryToken, _UnaryStreamToken, _StreamUnaryToken, _StreamStreamToken)
    return [shape(token) for shape in shapes]


def open_channel(
    target: str,
    options: Sequence[tuple[str, Any]] = (),
    security: ChannelSecurity | None = None,
) -> grpc.aio.Channel:
    security = security or ChannelSecurity()
    interceptors = bearer_token(security.token) if security.token else None
    if security.ca_file is None:
        return grpc.aio.insecure_channel(target, options=list(options), interceptors=interceptors)
    credentials = grpc.ssl_channel_credentials(root_certificates=security.ca_file.read_bytes())
    options = list(options)
    if security.server_name:
        options.append(("grpc.ssl_target_name_override", security.server_name))
    return grpc.aio.secure_channel(target, credentials, options=options, interceptors=interceptors)
