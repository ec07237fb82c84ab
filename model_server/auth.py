"""The model server's shared secret: a grpc.aio server interceptor that lets a call of
the TextToSpeech service through only with `authorization: Bearer <VOICE_GRPC__TOKEN>`
(compared in constant time); others end UNAUTHENTICATED with an ErrorInfo. The health
service and reflection stay open, for probes and load balancers. With no token set the
interceptor is not installed (the embedded local setup). TLS is the server's
(model_server.server: VOICE_GRPC__TLS_CERT_FILE and _KEY_FILE)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

from voice_contract.channels import AUTHORIZATION
from voice_contract.errors import abort, rich_status
from voice_contract.reasons import Reason

OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

if TYPE_CHECKING:  # generic in the type stubs only
    ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = grpc.aio.ServerInterceptor


def _refusal(handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler of the same shape as `handler` that only refuses."""
    status = rich_status(
        grpc.StatusCode.UNAUTHENTICATED,
        "a valid token is required (authorization: Bearer <VOICE_GRPC__TOKEN>)",
        Reason.UNAUTHENTICATED,
    )

    async def refuse(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await abort(context, status)

    codec = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse, **codec)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse, **codec)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse, **codec)
    return grpc.unary_unary_rpc_method_handler(refuse, **codec)


class TokenInterceptor(ServerInterceptor):
    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_PREFIXES):
            return handler
        presented = ""
        for key, value in handler_call_details.invocation_metadata or ():
            if key == AUTHORIZATION and isinstance(value, str):
                presented = value
        if hmac.compare_digest(presented.encode(), self._expected):
            return handler
        return _refusal(handler)
