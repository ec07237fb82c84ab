"""The design's own routes, `/api/voice/tts` and `/api/voice/stt`."""
