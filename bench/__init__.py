"""Benchmarks, one module each (``python -m bench.<name>``); results go to docs/benchmarks.md."""
