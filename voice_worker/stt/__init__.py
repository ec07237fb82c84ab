"""Speech-to-text providers: one Protocol (`base.STTProvider`), one module each."""
