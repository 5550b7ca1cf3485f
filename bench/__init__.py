"""Benchmarks: they print figures and never gate CI."""
