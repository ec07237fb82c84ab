"""Code that the model server and the voice workers both use: audio codecs, text
splitting, caching primitives, logging and settings helpers. Nothing here imports
grpc or FastAPI."""
