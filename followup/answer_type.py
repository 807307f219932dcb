"""What kind of answer a question expects, when its first words say so.

"How long does the taper take?" is answered by a duration ("several months"), "How often …" by a
frequency, "How much …" / "What dose …" by a quantity with a unit. Retrieval's second stage and
answer composition prefer passages and sentences that hold an expression of the expected kind
(an expected-answer-type cue, as in classic question answering). Other questions expect nothing
in particular: ``expected(question)`` is None and nothing changes.
"""

from __future__ import annotations

import re

_NUMBER = (r"(?:\d+(?:[.,]\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|"
           r"several|a few|few|many|some)")
_RANGE = rf"{_NUMBER}(?:\s*(?:-|–|to|or)\s*{_NUMBER})?"

DURATION = re.compile(
    rf"\b{_RANGE}\s*(?:-\s*)?(?:seconds?|minutes?|min|hours?|hrs?|days?|weeks?|wks?|months?|"
    rf"years?|yrs?)\b|\b(?:lifelong|indefinitely|overnight)\b|"
    r"\b(?:more|less|longer|shorter)\s+than\s+(?:a|an|one)\s+(?:hour|day|week|month|year)\b",
    re.IGNORECASE)
FREQUENCY = re.compile(
    r"\b(?:once|twice|three times|four times|\d+\s*times)\b|\bevery\s+(?:\d+\s*)?\w+|"
    r"\b(?:daily|weekly|monthly|yearly|annually|nightly|hourly)\b|"
    r"\b(?:per|a|each)\s+(?:day|week|month|year)\b",
    re.IGNORECASE)
QUANTITY = re.compile(
    rf"\b{_RANGE}\s*(?:mg|mcg|µg|g|kg|ml|mL|l|units?|iu|mmol|mEq|%|percent|mg/kg|mg/day)(?!\w)",
    re.IGNORECASE)

_EXPECTS = (
    (re.compile(r"^\W*(?:and\s+)?(?:how\s+long|for\s+how\s+long|how\s+many\s+(?:days|weeks|"
                r"months|years|hours))\b", re.IGNORECASE), DURATION),
    (re.compile(r"^\W*(?:and\s+)?how\s+(?:often|frequently)\b", re.IGNORECASE), FREQUENCY),
    (re.compile(r"^\W*(?:and\s+)?(?:how\s+much|what\s+(?:is|are)?\s*(?:the\s+)?"
                r"(?:\w+\s+){0,2}(?:dose|dosage|amount)|"
                r"how\s+many\s+(?:mg|milligrams|grams|units|tablets|doses))\b",
                re.IGNORECASE), QUANTITY),
)


def expected(question: str) -> re.Pattern[str] | None:
    """The pattern of the answer the question's opening asks for, or None."""
    for opening, pattern in _EXPECTS:
        if opening.search(question):
            return pattern
    return None
