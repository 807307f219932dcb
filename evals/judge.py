"""Judges: is a sentence supported by a passage? Used for ALCE citation recall/precision and
the unsupported-sentence rate, and calibrated against ``evals/judge_labels.jsonl``.

* ``support`` (default): the answering issue's support checker (numbers, negations, names and
  content words must be found in the passage), offline and deterministic.
* ``nli:PATH``: any local sentence-transformers cross-encoder NLI model (a folder; nothing is
  downloaded); supported when the ``entailment`` label wins.
* ``ollama:MODEL`` / ``openai:MODEL``: a LangChain chat model with ``prompts/judge.md``
  (``FOLLOWUP_LLM_BASE_URL`` / ``FOLLOWUP_LLM_API_KEY`` as for answering).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol

from followup.errors import UsageError
from followup.settings import Settings
from followup.support import check_support

LABELS_FILE = Path(str(files("followup.evals").joinpath("judge_labels.jsonl")))  # package data


class Judge(Protocol):
    name: str

    def supports(self, sentence: str, passage: str) -> bool: ...


class SupportJudge:
    name = "support-checker"

    def supports(self, sentence: str, passage: str) -> bool:
        return check_support(sentence, passage).supported


class NLIJudge:
    """A cross-encoder NLI model from a local folder."""

    def __init__(self, path: str) -> None:
        if not Path(path).is_dir():
            raise UsageError(f"judge nli:{path}: no such model folder (nothing is downloaded; "
                             "give the folder of a sentence-transformers CrossEncoder)")
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(path, local_files_only=True)
        labels = {int(k): str(v).lower() for k, v in
                  self.model.model.config.id2label.items()}
        hits = [i for i, lab in labels.items() if lab.startswith("entail")]
        if not hits:
            raise UsageError(f"judge nli:{path}: the model has no 'entailment' label "
                             f"({sorted(labels.values())})")
        self.entail = hits[0]
        self.name = f"nli:{Path(path).name}"

    def supports(self, sentence: str, passage: str) -> bool:
        scores = self.model.predict([(passage, sentence)])[0]
        return int(max(range(len(scores)), key=lambda i: scores[i])) == self.entail


class ChatJudge:
    """A LangChain chat model asked with ``prompts/judge.md``; an unclear reply is 'no'."""

    def __init__(self, model: Any, name: str, timeout_s: float = 30.0) -> None:
        self.model, self.name, self.timeout_s = model, name, timeout_s

    def supports(self, sentence: str, passage: str) -> bool:
        from followup.llm import complete
        from followup.prompts import load_prompt

        reply = complete(self.model, load_prompt("judge").render(
            passage=passage, sentence=sentence), self.timeout_s)
        word = reply.strip().upper().replace("-", "_").split()
        return bool(word) and word[0].strip(".:") == "SUPPORTED"


def get_judge(spec: str | None, settings: Settings) -> Judge:
    if not spec or spec == "support":
        return SupportJudge()
    kind, _, rest = spec.partition(":")
    if kind == "nli" and rest:
        return NLIJudge(rest)
    if kind in ("ollama", "openai") and rest:
        from followup.llm import get_chat_model

        model = get_chat_model(settings.model_copy(update={"llm": spec}))
        return ChatJudge(model, spec, settings.llm_timeout_s)
    raise UsageError(f"unknown judge {spec!r}: use support, nli:FOLDER, ollama:MODEL or "
                     "openai:MODEL")


@dataclass(frozen=True)
class Label:
    id: str
    sentence: str
    passage: str
    supported: bool
    kind: str


def load_labels(path: Path = LABELS_FILE) -> list[Label]:
    out: list[Label] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            out.append(Label(str(rec["id"]), rec["sentence"], rec["passage"],
                             bool(rec["supported"]), str(rec.get("kind", ""))))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}:{n}: not a judge label ({exc})") from None
    return out


def calibrate(judge: Judge, labels: list[Label]) -> dict[str, Any]:
    """The judge's agreement with the hand labels: accuracy, precision/recall of 'supported',
    Cohen's kappa, per-kind accuracy and the disagreements."""
    tp = fp = tn = fn = 0
    kinds: dict[str, list[int]] = {}
    wrong: list[dict[str, Any]] = []
    for lab in labels:
        said = judge.supports(lab.sentence, lab.passage)
        tp += said and lab.supported
        fp += said and not lab.supported
        tn += (not said) and not lab.supported
        fn += (not said) and lab.supported
        k = kinds.setdefault(lab.kind or "-", [0, 0])
        k[0] += said == lab.supported
        k[1] += 1
        if said != lab.supported:
            wrong.append({"id": lab.id, "kind": lab.kind, "label": lab.supported,
                          "judge": said, "sentence": lab.sentence, "passage": lab.passage})
    n = tp + fp + tn + fn
    acc = (tp + tn) / n if n else math.nan
    p_yes = ((tp + fp) / n) * ((tp + fn) / n) if n else 0.0
    p_no = ((tn + fn) / n) * ((tn + fp) / n) if n else 0.0
    pe = p_yes + p_no
    return {
        "judge": judge.name, "labels": n, "accuracy": acc,
        "precision": tp / (tp + fp) if tp + fp else math.nan,
        "recall": tp / (tp + fn) if tp + fn else math.nan,
        "kappa": (acc - pe) / (1 - pe) if n and pe < 1 else math.nan,
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
        "by_kind": {k: v[0] / v[1] for k, v in sorted(kinds.items())},
        "disagreements": wrong,
    }
