"""Benchmarks and tuning: above the product (nothing in followup imports this package but the CLI
entry point). ``followup bench ingest|ask|chat|tune|abstain``."""
