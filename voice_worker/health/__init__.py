"""Liveness, readiness and counters."""
