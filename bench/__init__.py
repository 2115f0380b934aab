"""Benchmark harness of the billing models: `python -m bench.run` (see bench/README.md)."""
