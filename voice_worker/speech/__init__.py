"""Text to speech: `POST /v1/audio/speech` (OpenAI) and `POST /api/voice/tts`."""
