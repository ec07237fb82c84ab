"""Byte caches shared by the workers: one Protocol (`base.ByteCache`), a Redis backend
and an in-memory TTL+LRU backend."""
