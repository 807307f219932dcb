"""Benchmarks and tuning: above the product (nothing in followup imports this package but the CLI
entry point). ``followup bench ingest|ask|chat|tune|abstain``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_figures(path: str | None, figures: dict[str, Any], *, announce: bool = False) -> None:
    """``--json OUT``: the bench's figures as JSON (nothing when no path was given)."""
    if not path:
        return
    Path(path).write_text(json.dumps(figures, indent=2))
    if announce:
        print(f"figures written to {path}")
