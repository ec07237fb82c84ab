"""The Wyoming transport (Home Assistant's voice protocol): `voice-engine serve-wyoming`.

Thin, like the HTTP routers: each event is parsed, handed to one domain object of the
worker (`Transcriber`, `CachedSpeech`, `Catalog`) and its result sent back as events.
`server` listens and shuts down gracefully, `handler` is one connection (the event
table), `framing` bounds what the package reads, `asr` and `tts` the two programs,
`voices` the catalogue kept for `describe` and voice choice, `info` the `describe`
answer, `errors` this transport's error table, `announce` the optional zeroconf
announcement."""
