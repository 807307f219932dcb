"""Words: one tokenizer (lower-case, stop words out, Snowball-stemmed) shared by the lexical
index, the second-stage scorer, the follow-up contextualizer and the support checker."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

_STEMMER = Stemmer.Stemmer("english")
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves also may might must shall s t d ll m o re ve y isn aren wasn weren hasn haven
    hadn doesn don didn won wouldn shouldn couldn mustn cannot tell know please""".split()
)
# Negations are content for the support checker (they flip a claim), never stop words there.
NEGATIONS = frozenset("no not never without none neither nor cannot avoid contraindicated".split())


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball's stem, with a noun in -ment joined to its verb ("treatment" and "treated" are
    both "treat"; Snowball already does it for "management")."""
    s = str(_STEMMER.stemWord(word))
    return s[:-4] if s.endswith("ment") and len(s) >= 8 else s


def _parts(token: str) -> tuple[str, ...]:
    """A word token, and when hyphenated also its parts ("gaba-b", "gaba", "b")."""
    return (token, *(p for p in token.split("-") if p)) if "-" in token else (token,)


def words(text: str) -> list[str]:
    """Lower-case word tokens, hyphenated forms kept whole and split ("gaba-b", "gaba", "b")."""
    return [p for w in _WORD.findall(text.lower()) for p in _parts(w)]


def _is_term(w: str) -> bool:
    return (w not in STOPWORDS and len(w) > 1) or w.isdigit()


@lru_cache(maxsize=200_000)
def _token_terms(token: str) -> tuple[str, ...]:
    """The terms of one word token (cached: the same words recur in every chunk)."""
    return tuple(stem(w) for w in _parts(token) if _is_term(w))


def terms(text: str) -> list[str]:
    """Stemmed content terms (stop words removed), in order, repeats kept."""
    return [t for w in _WORD.findall(text.lower()) for t in _token_terms(w)]


def term_set(text: str) -> frozenset[str]:
    return frozenset(terms(text))


def numbers(text: str) -> frozenset[str]:
    """Numbers as written (``7-14``, ``1.6``, ``50``), for the support checker."""
    return frozenset(re.findall(r"\d+(?:[.,]\d+)?", text))


_FIGURE = re.compile(r"(?<![A-Za-z\d.,])\d+(?:[.,]\d+)*")


def figures(text: str) -> frozenset[str]:
    """Numbers that stand alone ("4,000", "24"), not the digits of a name (the 12 of "B12")."""
    return frozenset(_FIGURE.findall(text))


def normalise_space(text: str) -> str:
    return " ".join(text.split())


_SOURCE_MARK = re.compile(r"\[(\d+(?:\s*[-–,]\s*\d+)*)\]")


def quote_text(sentence: str) -> str:
    """A source sentence as an answer shows it: white space normalised, and the source's own
    bracketed reference numbers ("[12]", "[3-5]") in parentheses, so they are never mistaken for
    the answer's citation markers."""
    return _SOURCE_MARK.sub(r"(\1)", normalise_space(sentence))


@lru_cache(maxsize=65_536)
def zipf(word: str) -> float:
    """How common an English word is (wordfreq's Zipf scale: 7 for "the", 3 for rare words)."""
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))
