"""Suites: YAML files of conversations and what each answer must show (``evals/README.md``).

A suite either lists ``cases`` written by hand or names a ``generate`` source (PubMedQA,
COVID-QA, MedQuAD follow-up chains) whose cases are built when the suite is loaded. Loading is
strict: an unknown key, an empty turn list or a corpus path that does not exist stops with the
file, the case and the reason.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from followup.evals.types import (  # noqa: F401  (re-exported: the suite API)
    AUDIENCES,
    BASELINES,
    CASE_KEYS,
    EXPECT_KEYS,
    GENERATE_KEYS,
    GOLD_KEYS,
    KNOWN_FAILURE,
    LIST_EXPECTS,
    SUITE_KEYS,
    TOP_PASSAGES,
    TURN_KEYS,
    Case,
    Gold,
    Suite,
    SuiteError,
    Turn,
    normalise,
)


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(f"duplicate key {key!r} at line {line}")
        self.key, self.line = key, line


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (PyYAML keeps the last
    silently: two ``expect:`` in a turn would drop the first one's expectations)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base loader reports it
                continue
            if duplicate:
                raise _DuplicateKey(key, key_node.start_mark.line + 1)
        return super().construct_mapping(node, deep=deep)


def _tags(value: Any, path: Path, case: str) -> tuple[str, ...]:
    """``tags``: a list of texts, or one text meaning a one-item list (``tags: known-failure``)."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise SuiteError(path, f"tags must be a list of texts, e.g. [{KNOWN_FAILURE}], "
                               f"not {value!r}", case)
    return tuple(t.strip() for t in value)


def _str_list(value: Any, what: str, path: Path, case: str | None) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(
            isinstance(v, (str, int, float)) and str(v).strip() for v in value):
        raise SuiteError(path, f"{what} must be a non-empty list of texts", case)
    return [str(v) for v in value]


def _check_keys(raw: dict[str, Any], known: set[str], path: Path, case: str | None = None,
                where: str = "", noun: str = "key(s)") -> None:
    """Unknown keys are errors that name the file, the case and the keys allowed."""
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SuiteError(path, f"{where}unknown {noun} {', '.join(unknown)} "
                               f"(known: {', '.join(sorted(known))})", case)


def _expect(raw: Any, path: Path, case: str, n: int) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SuiteError(path, f"turn {n}: expect must be a mapping", case)
    _check_keys(raw, EXPECT_KEYS, path, case, f"turn {n}: ", "expectation(s)")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in LIST_EXPECTS:
            out[key] = _str_list(value, f"turn {n}: {key}", path, case)
        elif key == "citations_min":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise SuiteError(path, f"turn {n}: citations_min must be a whole number ≥ 0",
                                 case)
            out[key] = value
        elif key == "abstain":
            if not isinstance(value, bool):
                raise SuiteError(path, f"turn {n}: abstain must be true or false", case)
            out[key] = value
    if out.get("abstain") is True and set(out) & {"articles", "contains", "contains_any",
                                                 "citations_min", "retrieved_articles"}:
        raise SuiteError(path, f"turn {n}: abstain: true cannot be combined with expectations "
                               "about an answer", case)
    return out


def _gold(raw: Any, path: Path, case: str, n: int) -> Gold:
    if not isinstance(raw, dict) or "article" not in raw:
        raise SuiteError(path, f"turn {n}: gold must be a mapping with an article", case)
    _check_keys(raw, GOLD_KEYS, path, case, f"turn {n}: ", "gold key(s)")
    span = raw.get("span")
    if span is not None:
        if (not isinstance(span, list) or len(span) != 2
                or not all(isinstance(x, int) for x in span) or span[0] >= span[1]):
            raise SuiteError(path, f"turn {n}: gold span must be [start, end]", case)
        span = (span[0], span[1])
    return Gold(str(raw["article"]), span, raw.get("text"))


def parse_case(raw: Any, path: Path, index: int) -> Case:
    if not isinstance(raw, dict):
        raise SuiteError(path, f"case #{index + 1} must be a mapping")
    cid = raw.get("id")
    if not isinstance(cid, (str, int)) or not str(cid).strip():
        raise SuiteError(path, f"case #{index + 1} has no id")
    cid = str(cid)
    _check_keys(raw, CASE_KEYS, path, cid)
    audience = raw.get("audience", "clinician")
    if audience not in AUDIENCES:
        raise SuiteError(path, f"audience must be one of {', '.join(AUDIENCES)}, "
                               f"not {audience!r}", cid)
    turns_raw = raw.get("turns")
    if not isinstance(turns_raw, list) or not turns_raw:
        raise SuiteError(path, "turns must be a non-empty list", cid)
    turns: list[Turn] = []
    for n, t in enumerate(turns_raw, 1):
        if not isinstance(t, dict):
            raise SuiteError(path, f"turn {n} must be a mapping with ask", cid)
        _check_keys(t, TURN_KEYS, path, cid, f"turn {n}: ")
        ask = t.get("ask")
        if not isinstance(ask, str) or not ask.strip():
            raise SuiteError(path, f"turn {n}: ask must be a non-empty question", cid)
        turns.append(Turn(ask, _expect(t.get("expect"), path, cid, n),
                          _gold(t["gold"], path, cid, n) if "gold" in t else None))
    return Case(cid, tuple(turns), audience, _tags(raw.get("tags"), path, cid))


def _corpus(raw: Any, path: Path) -> list[Path]:
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(x, str) and x for x in items):
        raise SuiteError(path, "corpus must be a list of paths")
    out: list[Path] = []
    for item in items:
        p = Path(os.path.expandvars(os.path.expanduser(item)))
        p = p if p.is_absolute() else (path.parent / p)
        if not p.exists():
            raise SuiteError(path, f"corpus path {item!r} does not exist (looked for {p}); "
                                   "paths are relative to the suite file")
        out.append(p.resolve())
    return out


def load_suite(path: Path | str) -> Suite:
    """Read and check one suite file; generated suites are built here."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # a SafeLoader
    except FileNotFoundError:
        raise SuiteError(path, "no such file") from None
    except UnicodeDecodeError:
        raise SuiteError(path, "not UTF-8 text") from None
    except _DuplicateKey as exc:
        raise SuiteError(path, f"key {exc.key!r} appears twice in one mapping (line "
                               f"{exc.line}); merge the two into one") from None
    except yaml.YAMLError as exc:
        raise SuiteError(path, f"not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SuiteError(path, "a suite is a mapping with name and cases")
    _check_keys(raw, SUITE_KEYS, path)
    name = str(raw.get("name") or path.stem)
    if ("cases" in raw) == ("generate" in raw):
        raise SuiteError(path, "a suite has either cases or generate (not both, not neither)")
    corpus = _corpus(raw.get("corpus"), path)
    if "generate" in raw:
        from followup.evals.generators import GENERATORS, generate

        spec = raw["generate"]
        if not isinstance(spec, dict) or "from" not in spec:
            raise SuiteError(path, "generate must be a mapping with from: "
                                   + " | ".join(GENERATORS))
        _check_keys(spec, GENERATE_KEYS, path, where="generate: ")
        source = spec.get("path")
        if source is None:
            raise SuiteError(path, "generate needs a path (file or folder of the dataset)")
        src = _corpus([str(source)], path)[0]
        numbers = {"limit": spec.get("limit"), "seed": spec.get("seed", 7),
                   "followups": spec.get("followups", 3)}
        for key, value in numbers.items():  # checked before any dataset is read
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < (0 if key == "seed" else 1)):
                raise SuiteError(path, f"generate: {key} must be a whole number "
                                       f"≥ {0 if key == 'seed' else 1}, not {value!r}")
        cases = generate(str(spec["from"]), src, limit=numbers["limit"], seed=numbers["seed"],
                         followups=numbers["followups"], suite_path=path)
        corpus = corpus or [src]
    else:
        raw_cases = raw["cases"]
        if not isinstance(raw_cases, list) or not raw_cases:
            raise SuiteError(path, "cases must be a non-empty list")
        cases = [parse_case(c, path, i) for i, c in enumerate(raw_cases)]
    seen: set[str] = set()
    for c in cases:
        if c.id in seen:
            raise SuiteError(path, "duplicate case id", c.id)
        seen.add(c.id)
    wanted = raw.get("baselines", list(BASELINES))
    if wanted is False:
        wanted = []
    if not isinstance(wanted, list) or any(b not in BASELINES for b in wanted):
        raise SuiteError(path, f"baselines must be a list of {', '.join(BASELINES)} (or false)")
    return Suite(name, path, cases, corpus, str(raw.get("description") or ""), tuple(wanted))


def find_suites(paths: list[str] | list[Path]) -> list[Path]:
    """Suite files named or found (recursively, ``*.yaml``/``*.yml``) in folders, in order."""
    out: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            found = sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml"))
            if not found:
                raise SuiteError(p, "no suite files (*.yaml) in this folder")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise SuiteError(p, "no such file or folder")
    return list(dict.fromkeys(out))


def load_suites(paths: list[str] | list[Path]) -> list[Suite]:
    suites = [load_suite(p) for p in find_suites(paths)]
    names: dict[str, Path] = {}
    for s in suites:
        if s.name in names:
            raise SuiteError(s.path, f"suite name {s.name!r} is also used by {names[s.name]}")
        names[s.name] = s.path
    return suites


def shipped(folder: str = "suites") -> Path:
    """A folder of suites shipped in the package (``suites``: the hand-written ones over the
    sample corpus; ``datasets``: PubMedQA, COVID-QA, MedQuAD), read as package data."""
    return Path(str(files("followup.evals").joinpath(folder)))
