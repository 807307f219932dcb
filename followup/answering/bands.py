"""The figures a question gives and the ranges a sentence states them for: "eGFR 50" falls in
"eGFR 45-59: keep the same dose …", "prednisone 60mg" in "Above 40 mg of prednisone a day: …".
The sentence that answers a dose or renal question is the one for the patient's own figure.

Only figures with a kind are read: a dose (mg, mcg) or a kidney function (eGFR, GFR, CrCl,
creatinine clearance); "every 1-4 weeks" or "3 or 4 beers" are no band of either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_NUMBER = r"\d+(?:\.\d+)?"
_DOSE_UNIT = r"(?:mg|mcg|µg|micrograms?|milligrams?)(?![\w/])"
_KIDNEY = r"(?:e?GFR|CrCl|creatinine\s+clearance)"
_KIDNEY_AHEAD = re.compile(rf"\b{_KIDNEY}\b[^.;:]{{0,40}}$", re.IGNORECASE)
# the question's figures: "60mg", "100 mcg", "eGFR 22", "GFR of 48", "CrCl ~35"
_ASKED_DOSE = re.compile(rf"(?<![\w.])(?P<v>{_NUMBER})\s*(?P<u>{_DOSE_UNIT})", re.IGNORECASE)
_ASKED_KIDNEY = re.compile(
    rf"\b{_KIDNEY}\s*(?:of|is|was|=|:|~|at|around|about)?\s*(?P<v>{_NUMBER})\b", re.IGNORECASE)
# a sentence's bands: "45-59", "10 to 20 mg", "above 40 mg", "below 30", "at or above 30"
_RANGE = re.compile(rf"(?<![\w.])(?P<a>{_NUMBER})\s*(?:-|–|to)\s*(?P<b>{_NUMBER})\s*"
                    rf"(?P<u>{_DOSE_UNIT})?", re.IGNORECASE)
_BOUND = re.compile(rf"\b(?P<op>above|over|more\s+than|greater\s+than|at\s+least|"
                    rf"at\s+or\s+above|below|under|less\s+than|at\s+or\s+below)\s+"
                    rf"(?P<a>{_NUMBER})\s*(?P<u>{_DOSE_UNIT})?", re.IGNORECASE)
_LOWER_BOUNDS = ("above", "over", "more", "greater", "at least", "at or above")


@dataclass(frozen=True)
class Figure:
    kind: str  # "dose" or "kidney"
    value: float


def asked_figures(text: str) -> list[Figure]:
    """The doses and kidney function figures ``text`` gives."""
    out = [Figure("dose", float(m.group("v"))) for m in _ASKED_DOSE.finditer(text)]
    out += [Figure("kidney", float(m.group("v"))) for m in _ASKED_KIDNEY.finditer(text)]
    return out


# a dose band is a daily dose ("10-20 mg a day:", "above 40 mg of prednisone a day"), not a
# step ("reduce by 5-10 mg each week")
_DAILY_AFTER = re.compile(r"^[^.;:]{0,25}?(?:a\s+day|daily|/day|per\s+day|/d\b)|^\s*:",
                          re.IGNORECASE)


def _kind(sentence: str, m: re.Match[str]) -> str | None:
    if m.group("u"):
        return "dose" if _DAILY_AFTER.search(sentence[m.end():]) else None
    return "kidney" if _KIDNEY_AHEAD.search(sentence[:m.start()]) else None


def in_band(sentence: str, figures: Sequence[Figure]) -> bool:
    """Whether the sentence states a range or bound of the same kind that holds a figure."""
    if not figures:
        return False
    for m in _RANGE.finditer(sentence):
        kind = _kind(sentence, m)
        lo, hi = sorted((float(m.group("a")), float(m.group("b"))))
        if any(f.kind == kind and lo <= f.value <= hi for f in figures):
            return True
    for m in _BOUND.finditer(sentence):
        kind = _kind(sentence, m)
        bound = float(m.group("a"))
        lower = " ".join(m.group("op").lower().split()).startswith(_LOWER_BOUNDS)
        if any(f.kind == kind and (f.value >= bound if lower else f.value <= bound)
               for f in figures):
            return True
    return False
