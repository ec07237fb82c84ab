"""`MetricsInterceptor`: every gRPC call the server answers, counted by method and
status code, its latency (to its last message) in a histogram. Methods the server
does not serve are left alone (gRPC answers UNIMPLEMENTED), so a client cannot grow
the label set by inventing method names."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

from model_server.metrics import GRPC_DURATION, GRPC_REQUESTS

Behavior = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Any]


def _code(context: grpc.aio.ServicerContext[Any, Any], error: BaseException | None) -> str:
    if isinstance(error, (asyncio.CancelledError, GeneratorExit)):  # the client left
        return "CANCELLED"
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    return "UNKNOWN" if error is not None else "OK"


def _record(method: str, context: Any, start: float, error: BaseException | None) -> None:
    GRPC_REQUESTS.labels(method, _code(context, error)).inc()
    GRPC_DURATION.labels(method).observe(time.perf_counter() - start)


def _unary(method: str, behavior: Behavior) -> Behavior:
    async def measured(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        start, error = time.perf_counter(), None
        try:
            result = behavior(request, context)
            return await result if inspect.isawaitable(result) else result
        except BaseException as exc:
            error = exc
            raise
        finally:
            _record(method, context, start, error)

    return measured


def _streaming(method: str, behavior: Behavior) -> Behavior:
    if not inspect.isasyncgenfunction(behavior):  # writes with context.write()
        return _unary(method, behavior)

    async def measured(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        start, error = time.perf_counter(), None
        responses: AsyncIterator[Any] = behavior(request, context)
        try:
            async for response in responses:
                yield response
        except BaseException as exc:
            error = exc
            raise
        finally:
            _record(method, context, start, error)

    return measured


if TYPE_CHECKING:  # generic only in the stubs
    Handler = grpc.RpcMethodHandler[Any, Any]
    Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    Handler = grpc.RpcMethodHandler
    Interceptor = grpc.aio.ServerInterceptor


class MetricsInterceptor(Interceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler: Any = await continuation(handler_call_details)
        if handler is None:  # not a method of ours: gRPC answers UNIMPLEMENTED
            return None  # type: ignore[return-value]
        method = handler_call_details.method
        method = method.decode() if isinstance(method, bytes) else method
        if handler.unary_unary is not None:
            return handler._replace(unary_unary=_unary(method, handler.unary_unary))  # type: ignore[no-any-return]
        if handler.stream_unary is not None:
            return handler._replace(stream_unary=_unary(method, handler.stream_unary))  # type: ignore[no-any-return]
        if handler.unary_stream is not None:
            return handler._replace(unary_stream=_streaming(method, handler.unary_stream))  # type: ignore[no-any-return]
        if handler.stream_stream is not None:
            return handler._replace(stream_stream=_streaming(method, handler.stream_stream))  # type: ignore[no-any-return]
        return handler  # type: ignore[no-any-return]
