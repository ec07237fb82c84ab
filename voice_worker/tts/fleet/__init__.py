"""Several model servers behind one speech provider (`VOICE_TTS__MODEL_SERVERS`).

`discovery` finds the servers (addresses, or a name resolved to all its addresses and
re-resolved); `members` keeps a channel to each with a view of its health (gRPC health
Watch) and models (ListModels: loaded, loadable, in flight); `routing` is the pure
choice of a server for a model; `fleet` holds the members and wraps "open a call and
get its first message" with failover; `provider` is the TTS provider over it."""
