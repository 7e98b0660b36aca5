"""Benchmark scripts: each prints one JSON object of measured numbers."""
