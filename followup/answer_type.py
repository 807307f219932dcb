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


# Intents: what a question asks for, wherever it says so, and the words of a sentence that
# gives that kind of answer. Composition prefers such sentences (followup.answering.selection).
_SYMPTOM_CUES = re.compile(r"\b(?:symptoms?|signs?|features?|includes?|including|presents?|"
                           r"presentation|such as|cause[sd]?)\b", re.IGNORECASE)
INTENTS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    name: (re.compile(question, re.IGNORECASE), cue) for name, question, cue in (
        ("timing", r"\b(?:how\s+(?:long|soon|quickly|fast)|when\s+(?:does|do|will|should|can|is|"
                   r"are|to)|onset|how many (?:days|weeks|hours))\b", DURATION),
        ("frequency", r"\bhow\s+(?:often|frequently)\b", FREQUENCY),
        ("number", r"\b(?:how\s+many|how\s+common|number\s+of|what\s+(?:is|was|were|are)\s+the\s+"
                   r"(?:size|age|rate|percentage|proportion|average|median|mean|length|"
                   r"incidence|prevalence|risk)|what\s+percentage)\b",
         re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|half|third|"
                    r"quarter)\b", re.IGNORECASE)),
        ("dose", r"\b(?:how\s+much|doses?|dosing|dosage|max|maximum|mg|mcg|titrat\w*|"
                 r"starting|cut|reduce|reduction)\b", QUANTITY),
        ("presentation", r"\b(?:symptoms?|sx|signs?|look\s+(?:out\s+)?for|watch\s+for|"
                         r"present\w*|features?|what\s+does\s+\w+\s+cause)\b", _SYMPTOM_CUES),
        ("management", r"\b(?:treat\w*|tx|manag\w*|mgmt|next\s+step|what\s+(?:do|should|can)\s+"
                       r"(?:i|we)\s+do|what\s+(?:should|must|can)\s+be\s+done|what\s+to\s+do|"
                       r"bring\s+\w+\s+down|what\s+then)\b",
         re.compile(r"\b(?:treat\w*|give|giv\w*|manage\w*|restor\w*|restart\w*|reinstat\w*|"
                    r"first-line|consider|stop\w*|discontinu\w*|switch\w*)\b", re.IGNORECASE)),
        ("monitoring", r"\b(?:monitor\w*|check\w*|recheck\w*|labs?|follow[- ]?up)\b",
         re.compile(r"\b(?:monitor\w*|check\w*|measur\w*|recheck\w*|every\s+\d+)\b",
                    re.IGNORECASE)),
        ("harms", r"\b(?:risks?\s+of|dangers?|dangerous|harms?|what\s+(?:can\s+)?happens?)\b",
         re.compile(r"\b(?:harm\w*|serious|cause[sd]?|can\s+lead|death|fatal|suicid\w*|"
                    r"toxicity)\b", re.IGNORECASE)),
        ("risk", r"\b(?:at\s+risk|risk\s+factors?|more\s+likely|susceptible|who\s+gets|"
                 r"(?:higher|more|bigger)\s+risk|riskier|worse|more\s+at\s+risk)\b",
         re.compile(r"\b(?:risk\w*|susceptible|more\s+likely|higher|increase[sd]?|factors?)\b",
                    re.IGNORECASE)),
        ("cause", r"\b(?:what\s+(?:causes?|caused|triggers?)|causes?\s+of)\b",
         re.compile(r"\b(?:caus\w*|follows?|due\s+to|results?\s+from|trigger\w*|"
                    r"interrupt\w*|precipitat\w*)\b", re.IGNORECASE)),
        ("mechanism", r"\b(?:why|mechanism|how\s+does\s+\w+\s+work)\b",
         re.compile(r"\b(?:because|through|inhibit\w*|block\w*|leads?\s+to|results?\s+in|"
                    r"due\s+to|mechanism|so\s+that|reduc\w+\s+\w+\s+clearance)\b",
                    re.IGNORECASE)),
        ("safety", r"\b(?:is\s+it\s+(?:safe|ok|okay)|ok\s+to|okay\s+to|safe\s+to|can\s+(?:i|we|"
                   r"she|he|you)\b|should\s+(?:i|we)\b|ok\?|okay\?)",
         re.compile(r"\b(?:should\s+not|avoid\w*|safe\w*|contraindicat\w*|do\s+not|not\s+"
                    r"recommended|caution|can\s+be|should\s+be)\b", re.IGNORECASE)),
        ("comparison", r"\b(?:better|vs\.?|versus|safer|compared|which\s+(?:one|is|of))\b",
         re.compile(r"\b(?:than|lower|higher|less|more|compared|preferred|safer|lowest|"
                    r"highest)\b", re.IGNORECASE)),
    )
}


# The words of a section heading under which a sentence of that kind stands ("Onset, Duration
# and Frequency" for timing, "Clinical Features: FINISH" for presentation, "Treatment Options").
INTENT_SECTIONS: dict[str, re.Pattern[str]] = {
    name: re.compile(rf"\b(?:{words})", re.IGNORECASE) for name, words in (
        ("timing", r"onset|timeline|timing|duration|when\b|resolution|course"),
        ("frequency", r"frequency|monitor"),
        ("number", r"incidence|frequency|evidence|statistics|how many"),
        ("dose", r"dos(?:e|ing)|taper rates|schedule|maximum|thresholds|limits|starting"),
        ("presentation", r"features|recogni|symptom|signs|presentation|effects|toxicity"),
        ("management", r"management|treat|taper|how to|care\b|restor|switching|prevention|"
                       r"therap"),
        ("monitoring", r"monitor|testing|levels|follow"),
        ("harms", r"risks|harm|warning|effects|toxicity|abrupt|complication"),
        ("risk", r"risk|vulnerable|who\b|older|cause"),
        ("mechanism", r"mechanism|why\b|how \w+ harm|cause"),
        ("cause", r"cause|mechanism|why\b"),
        ("safety", r"avoid|contraindicat|warning|guideline|restriction"),
        ("comparison", r"which\b|versus|higher risk"),
    )
}


def intents(question: str) -> list[str]:
    """The intents the question states (INTENTS), in the table's order."""
    return [name for name, (asks, _) in INTENTS.items() if asks.search(question)]


def intent_cues(question: str) -> list[re.Pattern[str]]:
    """The sentence cues of the question's intents."""
    return [INTENTS[name][1] for name in intents(question)]
