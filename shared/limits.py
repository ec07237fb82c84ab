"""Limits both services enforce, each in one place: the model server's validation, the
worker's request bodies, the session settings and the settings defaults read them here."""

from __future__ import annotations

#: longest text spoken in one request, and the default of every text-length setting
MAX_TEXT_CHARS = 4096
#: speaking rate (OpenAI's range too)
MIN_SPEED, MAX_SPEED = 0.25, 4.0
#: an output sample rate other than 0 (the model's own)
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8_000, 48_000
#: the output rates every codec takes (MP3 and AAC know only these), for HTTP requests
STANDARD_SAMPLE_RATES = (8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)
#: a session's title, and a name in its settings (voice, model, role)
MAX_TITLE_CHARS = 200
MAX_NAME_CHARS = 200
#: a BCP 47 language tag
MAX_LANGUAGE_CHARS = 35
