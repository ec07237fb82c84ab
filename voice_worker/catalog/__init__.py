"""What the worker offers: `GET /v1/audio/voices` and `GET /v1/models`."""
