"""Rate limits shared across workers: per user (per client address when anonymous) and
per route class, counted in Redis with the `limits` library so every worker spends the
same budget (`limiter`); concurrent WebSocket connections (`connections`); the
request-scoped meter the domain charges costs to (`meter`); the pure-ASGI middleware
that applies them to HTTP requests and WebSocket handshakes (`middleware`)."""
