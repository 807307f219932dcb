"""Grounding test suites for evaluators (built by the evaluation issue)."""
