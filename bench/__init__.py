"""Ruche's benchmarks: `python -m bench` (or `make bench`)."""
