"""Text-to-speech providers: one Protocol (`base.TTSProvider`), one module each."""
