"""Benchmarks (`make bench`): each module prints a table and writes JSON under
bench/results/. Timing targets live here, never in tests."""
