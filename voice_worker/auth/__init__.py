"""Who is calling: settings (`settings`), the caller (`principal.Principal`), API keys
(`api_keys`), JWT verification (`jwt_tokens`), short-lived client secrets for browsers
(`client_secrets`), all behind one `authenticator.Authenticator`; the transport side is
a pure-ASGI middleware (`middleware`, HTTP and WebSocket handshakes alike) and the
accessor routes ask for (`deps`). The route that mints client secrets is realtime's
(realtime/client_secrets_router.py)."""
