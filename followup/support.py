"""The support checker: is a sentence supported by the passage it cites?

Rules (each must hold against the cited passage, else the sentence is unsupported):

* exact: an extractive sentence must stand verbatim (up to white space) in the passage;
* numbers: every number in the sentence appears in the passage;
* negations: the sentence's negation words match those of the passage sentence it is closest
  to (a flipped claim — "not", "never", "avoid" — is caught);
* names: no drug-like name, mid-sentence capitalised word or word with digits of the sentence
  is missing from the passage (a swapped drug);
* content words: at least ``min_coverage`` of the sentence's stemmed content words are in the
  passage.

This is also the default judge of the evals (citation recall and precision).
"""

from __future__ import annotations

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


def check_support(sentence: str, passage: str, *, exact: bool = False,
                  min_coverage: float = 0.8) -> Verdict:
    """Judge ``sentence`` against ``passage`` (the concatenated cited passages)."""
    s = normalise_space(sentence)
    p = normalise_space(passage)
    if not s:
        return Verdict(False, "empty sentence")
    if exact:
        ok = s.rstrip(".") in p
        return Verdict(ok, "verbatim in the passage" if ok else "not verbatim in the passage")
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
    closest = max(_sentences(p) or [p],
                  key=lambda x: len(s_terms & term_set(x)) / (len(term_set(x)) or 1))
    if _negations(s) != _negations(closest):
        return Verdict(False, "negation differs from the closest passage sentence")
    return Verdict(True, "numbers, negations and content words found in the passage")
