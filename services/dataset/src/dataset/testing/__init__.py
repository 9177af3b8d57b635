"""Helpers for tests and benchmarks: the hostile corpus, generated image sets, the app served in-process."""
