"""pytest collects every case of every suite as a test item.

``pytest evals/`` runs the suites in ``evals/suites/`` (and any suite file named on the command
line, e.g. a generated one). Options: ``--eval-url URL`` (a running chat's ``/ask``),
``--eval-store DIR`` (an embedded store instead of the per-corpus cache). A failure names the
suite, the case, the turn, the expectation and what came back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from followup.evals.metrics import TurnResult
from followup.evals.runner import Runner
from followup.evals.suite import Case, Suite, SuiteError, load_suite

_RUNNER = pytest.StashKey[Runner]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("followup evals")
    group.addoption("--eval-url", default=None, help="evaluate a running chat via its /ask")
    group.addoption("--eval-store", default=None, help="embedded store for the suites")


def _explicit(config: pytest.Config, path: Path) -> bool:
    return any(Path(a.split("::")[0]).resolve() == path.resolve() for a in config.args)


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and (
            file_path.parent.name == "suites" or _explicit(parent.config, file_path)):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


def _runner(config: pytest.Config) -> Runner:
    if _RUNNER not in config.stash:
        from followup.settings import load_settings

        store = config.getoption("--eval-store")
        settings = load_settings(**({"store_dir": store} if store else {}))
        config.stash[_RUNNER] = Runner(settings, url=config.getoption("--eval-url"),
                                       explicit_store=bool(store), log=lambda _msg: None)
    return config.stash[_RUNNER]


class SuiteFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            suite = load_suite(self.path)
        except SuiteError as exc:
            raise self.CollectError(str(exc)) from None
        for case in suite.cases:
            item = CaseItem.from_parent(self, name=case.id, suite=suite, case=case)
            if case.known_failure:
                item.add_marker(pytest.mark.xfail(
                    reason="known failure (tagged in the suite); remove the tag once it passes",
                    raises=CaseFailed, strict=True))
            yield item


class CaseFailed(Exception):
    def __init__(self, results: list[TurnResult]) -> None:
        super().__init__("case failed")
        self.results = results


class CaseItem(pytest.Item):
    def __init__(self, *, suite: Suite, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite, self.case = suite, case

    def runtest(self) -> None:
        runner = _runner(self.config)
        results = runner.run_case(self.suite, self.case, runner.target(self.suite))
        if any(not r.passed for r in results) or len(results) < len(self.case.turns):
            raise CaseFailed(results)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if not isinstance(excinfo.value, CaseFailed):
            return str(super().repr_failure(excinfo))
        lines = [f"suite {self.suite.name} ({self.suite.path}), case {self.case.id}:"]
        for r in excinfo.value.results:
            a = r.answer or {}
            status = "ok" if r.passed else "FAILED"
            lines.append(f"  turn {r.index + 1} {status}: ask {r.turn.ask!r} → interpreted as "
                         f"{a.get('standalone_question')!r}, abstained {a.get('abstained')}")
            lines.extend(f"    expectation {f}" for f in r.failures)
            if r.error:
                lines.append(f"    error: {r.error}")
            if not r.passed and a.get("answer"):
                lines.append("    answer: " + " ".join(a["answer"].split())[:400])
        return "\n".join(lines)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.suite.name}::{self.case.id}"
