"""Grounding test suites for evaluators: YAML suites (``suite.py``, ``generators.py``), the
runner (``runner.py``: in-process or a running chat's ``/ask``), expectations and metrics
(``metrics.py``), judges (``judge.py``), baselines (``baselines.py``), the HTML report
(``report.py``), ``followup eval`` (``cli.py``) and the pytest plugin (``pytest_plugin.py``).
See ``evals/README.md``."""
