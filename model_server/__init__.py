"""The model server: keeps text-to-speech models resident and serves them over gRPC.

Layers, outermost first; a module imports only modules of the layers below it, never
one beside it (type-only imports too, so there is no import cycle):

1. `server`: the process (wiring, health, shutdown); the only importer of layer 2.
2. `servicer` (the gRPC adapter), `exposition` (the metrics port; state read from
   the synthesizer at scrape time), `interceptor` (gRPC calls counted), `auth` (the
   token check).
3. `synthesizer`: the domain (validation, admission, streaming, encoding); beside it
   `status`, the servicer's one table from the domain's errors to gRPC statuses.
4. `sentences`: a text stream's sentences, each spoken as soon as it is complete.
5. `planning` (a request's model, voice and checks) and `batching` (a runner per
   model: threads, batches).
6. `registry`: which models are loaded.
7. `backends`: one Protocol, one module per engine.
8. Leaves: `metrics` (the event counters, recorded anywhere), `errors`, `slots`,
   `settings`.

Only `server`, `servicer`, `status`, `interceptor` and `auth` import grpc.
"""
