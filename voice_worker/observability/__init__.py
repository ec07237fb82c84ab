"""Prometheus metrics of the voice worker: what is measured (`metrics`), the HTTP
middleware that counts requests (`http`), and the text exposition, right with many
processes (`exposition`)."""
