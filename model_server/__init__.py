"""The model server: keeps text-to-speech models resident and serves them over gRPC.

Layers, outermost first: `server` (process, health, shutdown) -> `servicer` (gRPC
adapter) -> `service` (the domain: admission, batching, streaming, encoding) ->
`registry` (which models are loaded) -> `backends` (one Protocol, one module per
engine). Backends never import grpc.
"""
