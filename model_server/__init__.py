"""The model server: keeps text-to-speech models resident and serves them over gRPC.

Layers, outermost first: `server` (process, health, shutdown) -> `servicer` (gRPC
adapter; its one error table is `status`) -> `synthesizer` (the domain: validation,
admission, batching, streaming, encoding; errors in `errors`) -> `batching` (a runner
per model: threads, batches) -> `registry` (which models are loaded) -> `backends` (one
Protocol, one module per engine). Only `server`, `servicer` and `status` import grpc.
"""
