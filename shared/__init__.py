"""Code that the model server and the voice workers both use: audio codecs, text
splitting and the rule for speakable text, the limits both enforce, caching primitives,
logging and settings helpers. The bottom of the house: it imports no transport (no
grpc, no FastAPI) and nothing of the engine."""
