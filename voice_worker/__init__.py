"""The voice worker: a stateless FastAPI app for speech-to-text, chat and
text-to-speech. Run as many as you like behind a load balancer; they share Redis."""
