"""Speech to text: `POST /v1/audio/transcriptions` (OpenAI) and `POST /api/voice/stt`."""
