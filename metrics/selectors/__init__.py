"""Reads of the metrics app: filters, score aggregates (from the rollup) and labels."""
