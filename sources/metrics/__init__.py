"""Metric points of runs: ingestion, import from AWS, series and cross-run evolution."""
