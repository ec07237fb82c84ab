"""The OpenAI Realtime protocol over WebSocket (`/v1/realtime`): a transport of the
worker, like HTTP and Wyoming. `router` (the endpoint and handshake) and `connection`
(one connection's reader and writer) touch the WebSocket; `protocol` and `beta` parse
client events with the openai SDK's own types (GA and beta names); `session` is one
connection's state (input buffer, server VAD, conversation items), `response` one
response through the `VoiceChatEngine`, `vad` the Silero turn detector, `outbox` the
bounded queue to the client, `errors` this transport's error table."""
