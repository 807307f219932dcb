"""The support checker: is a sentence supported by the passage it cites?

Rules (each must hold against the cited passage, else the sentence is unsupported):

* exact: an extractive sentence must stand verbatim (up to white space) in the passage;
* content words: at least ``min_coverage`` of the sentence's stemmed content words are in the
  passage;
* the claim's window: the one or two adjacent passage sentences that share most words with
  the sentence; against it —
* numbers: every number of the sentence is in the window, each with the word that qualifies
  it ("10 % per week" is not "10 % per month");
* names: every drug-like name, mid-sentence capitalised word or word with digits is in the
  window (a swapped drug), in the same order when two are there ("clonidine … lofexidine"
  is not "lofexidine … clonidine");
* negations: the sentence's negation words match the window's (a flipped claim — "not",
  "never", "avoid" — is caught).

Calibrated against the hand labels in ``evals/judge_labels.jsonl`` (``followup eval`` prints
the agreement): it is strict — paraphrases with other words are often judged unsupported,
which drops a sentence rather than let a wrong one through.

This is also the default judge of the evals (citation recall and precision).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from followup.text import NEGATIONS, STOPWORDS, normalise_space, numbers, stem, term_set, words

# Names that must never be swapped: drug-like suffixes, mid-sentence capitals, words with digits.
_DRUGLIKE = re.compile(
    r"(?:am|ine|ol|pril|sartan|azole|mab|cillin|mycin|floxacin|statin|pam|lam|done|fen|pine|"
    r"zide|olol|parin|arin|ide|ate|one|cin|vir|tide|nib)$"
)


@dataclass(frozen=True)
class Verdict:
    supported: bool
    reason: str


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [p for p in parts if p.strip()]


def _names(sentence: str) -> set[str]:
    out: set[str] = set()
    tokens = re.findall(r"[A-Za-z][A-Za-z0-9-]*", sentence)
    for i, tok in enumerate(tokens):
        low = tok.lower()
        if low in STOPWORDS or len(tok) < 4:
            continue
        if (i > 0 and tok[0].isupper()) or any(ch.isdigit() for ch in tok) or (
                len(tok) >= 6 and _DRUGLIKE.search(low)):
            out.add(tok)
    return out


def _negations(text: str) -> frozenset[str]:
    return frozenset(w for w in words(text) if w in NEGATIONS)


def _windows(text: str) -> list[str]:
    ss = _sentences(text) or [text]
    return ss + [f"{a} {b}" for a, b in itertools.pairwise(ss)]


def _number_units(text: str) -> set[tuple[str, str]]:
    """Each number with the first word after it that qualifies it (unit, period, measure)."""
    toks = re.findall(r"\d+(?:\.\d+)?|[a-z]+", text.lower())
    out: set[tuple[str, str]] = set()
    for i, tok in enumerate(toks):
        if tok[0].isdigit():
            nxt = [x for x in toks[i + 1: i + 4] if not x[0].isdigit() and x not in _LINKS]
            out.add((tok, stem(nxt[0]) if nxt else ""))
    return out


_LINKS = frozenset("to and or of a the per than mg".split())


def check_support(sentence: str, passage: str, *, exact: bool = False,
                  min_coverage: float = 0.8) -> Verdict:
    """Judge ``sentence`` against ``passage`` (the concatenated cited passages)."""
    s = normalise_space(sentence)
    p = normalise_space(passage)
    if not s:
        return Verdict(False, "empty sentence")
    verbatim = s.rstrip(".") in p
    if exact or verbatim:
        return Verdict(verbatim, "verbatim in the passage" if verbatim
                       else "not verbatim in the passage")
    missing_numbers = sorted(numbers(s) - numbers(p))
    if missing_numbers:
        return Verdict(False, f"numbers not in the passage: {', '.join(missing_numbers)}")
    s_terms = term_set(s)
    p_terms = term_set(p)
    names = _names(s)
    if missing_names := sorted(n for n in names if stem(n.lower()) not in p_terms):
        return Verdict(False, f"names not in the passage: {', '.join(missing_names)}")
    if s_terms:
        coverage = len(s_terms & p_terms) / len(s_terms)
        if coverage < min_coverage:
            missing = ", ".join(sorted(s_terms - p_terms)[:6])
            return Verdict(False, f"content words not in the passage ({coverage:.0%} found; "
                                  f"missing: {missing})")
    key = s_terms | numbers(s)
    window = max(_windows(p), key=lambda w: (len(key & term_set(w)), -len(w)))
    if missing_numbers := sorted(numbers(s) - numbers(window)):
        return Verdict(False, f"numbers not in the claim's passage sentence: "
                              f"{', '.join(missing_numbers)}")
    if changed := sorted(f"{n} {u}" for n, u in _number_units(s) - _number_units(window)):
        return Verdict(False, f"numbers qualified differently in the passage: "
                              f"{', '.join(changed)}")
    w_stems = [stem(x) for x in words(window)]
    s_stems = [stem(x) for x in words(s)]
    if missing_names := sorted(n for n in names if stem(n.lower()) not in w_stems):
        return Verdict(False, f"names not in the claim's passage sentence: "
                              f"{', '.join(missing_names)}")
    both = [stem(n.lower()) for n in names if stem(n.lower()) in s_stems]
    for a, b in itertools.combinations(dict.fromkeys(both), 2):
        if (s_stems.index(a) < s_stems.index(b)) != (w_stems.index(a) < w_stems.index(b)):
            return Verdict(False, f"{a} and {b} in the opposite roles to the passage")
    if _negations(s) != _negations(window):
        return Verdict(False, "negation differs from the passage sentence")
    return Verdict(True, "numbers, names, negations and content words found in the passage")
