"""Metrics: pure distances and scores, each returning dict[str, float]."""
