"""The guard: text addressed to the answering system rather than to a reader, and questions
not written in the articles' language. Article and question text are data, never instructions:
an article sentence that reads as an instruction is never quoted, and a question that does is
refused with a notice (followup.answering.engine).
"""

from __future__ import annotations

import re

_AI = r"(?:ai|a\.i\.|artificial intelligence|chat ?bots?|bots?|language models?|llms?|" \
      r"ai (?:assistants?|systems?|models?|tools?)|virtual assistants?|answering systems?)"
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instruction|prompt|article|passage|rule|"
    r"evidence|source)s?\b|"
    r"\b(system prompt|you are (an?|the) (ai|assistant|language model)|as an ai)\b|"
    r"\b(respond|reply|answer) only with\b|"
    rf"\b(?:note|message|instructions?|reminder)s?\s+(?:to|for)\s+(?:any\s+|all\s+|the\s+)?{_AI}\b|"
    rf"\b{_AI}\s+(?:reading|processing|summari[sz]ing|answering|that reads?)\b|"
    rf"\b(?:if|when) (?:you are|you're) an? {_AI}\b|"
    r"\b(?:tell|inform|instruct|advise|answer|reply to)\s+the\s+user\b|"
    r"\bwhen you(?: are|'re)? asked\b",
    re.IGNORECASE,
)


def looks_like_instruction(text: str) -> bool:
    """A sentence addressed to the answering system rather than to a reader (article text is
    data: such a sentence is never quoted as an answer)."""
    return bool(_INJECTION.search(text))


FOREIGN_MARGIN = 2.0  # a word this much more frequent (zipf) in another language than in English
FOREIGN_SHARE = 0.5  # ... for this share of a question's words: not written in English
_OTHER_LANGUAGES = ("es", "fr", "de", "pt", "it", "nl")


def looks_foreign(question: str) -> bool:
    """Whether the question is written in another language than the articles' English."""
    from wordfreq import zipf_frequency

    words = [w.casefold() for w in re.findall(r"[^\W\d_]+", question)]
    if len(words) < 3:
        return False
    foreign = sum(1 for w in words if max(zipf_frequency(w, lang) for lang in _OTHER_LANGUAGES)
                  - zipf_frequency(w, "en") >= FOREIGN_MARGIN)
    return foreign >= 3 and foreign >= FOREIGN_SHARE * len(words)
