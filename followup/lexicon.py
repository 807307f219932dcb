"""The corpus's entity lexicon: drug classes and the members the articles name for them.

Built from the articles' text with the lexical index (so with every ingest, embedded or server
store) and saved beside it. The articles say what belongs to a class in a few fixed ways:

* "fluoroquinolones such as moxifloxacin and levofloxacin" (also "including", "like");
* "systemic fluoroquinolones (ciprofloxacin, levofloxacin, moxifloxacin)";
* "amiodarone, fluconazole and other CYP2C9 inhibitors";
* "diazepam (a benzodiazepine)".

A class is a plural noun that names drugs ("NSAIDs", "corticosteroids", "CYP3A4 inhibitors"),
not a generic one ("drugs", "symptoms", "factors"); a member is one rare word (a drug name, not
an everyday word). Article text is data: a sentence can only add (member, class) pairs within
these limits, whatever it says, so hostile text (HTML, 10,000-character tokens, instructions)
neither breaks the lexicon nor grows it without bound.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from followup.text import zipf

MAX_WORD_CHARS = 40  # longer tokens are not names
MAX_CLASSES = 500
MAX_MEMBERS_PER_CLASS = 60
MEMBER_MAX_ZIPF = 3.3  # a drug name is rare in everyday English ("moxifloxacin", not "pain")
MIN_MEMBER_CHARS = 5
LEXICON_FILE = "lexicon.json"
_TAG = re.compile(r"<[^<>]{0,200}>")

_WORD = r"[A-Za-z][A-Za-z0-9-]{1,39}"
_LIST = rf"{_WORD}(?:\s*,\s*{_WORD})*(?:,?\s+(?:and|or)\s+{_WORD})?"
_CLASS = rf"(?:{_WORD}\s+)?{_WORD}s"
_SUCH_AS = re.compile(rf"\b(?P<c>{_CLASS}),?\s+(?:such\s+as|including|like)\s+(?P<m>{_LIST})")
_PAREN = re.compile(rf"\b(?P<c>{_CLASS})\s+\((?P<m>{_LIST})\)")
_OTHER = re.compile(rf"\b(?P<m>{_LIST}),?\s+and\s+other\s+(?P<c>{_CLASS})\b")
_APPOSITION = re.compile(rf"\b(?P<m>{_WORD})\s+\((?:an?|another)\s+(?P<c>(?:{_WORD}\s+)?{_WORD})\)")
# Class words that say nothing about what a drug is.
GENERIC_CLASSES = frozenset(
    """drugs medicines medications agents products factors symptoms signs features reactions
    harms deficits disturbances properties doses situations states adjuncts conditions effects
    events options patients people adults studies trials cases labels tablets preparations
    illnesses diseases disorders changes tests levels values interactions risks others those
    things types groups forms routes causes reasons problems areas items inhibitors inducers
    substrates""".split())
_DRUG_CLASS_ENDINGS = ("ines", "ins", "ids", "ones", "ics", "tors", "ers", "ants", "ates",
                       "oles", "ides", "ists", "Is", "As", "Bs", "Ds")


# Name stems that say a drug's class (the USAN/INN stems): "sumatriptan" is a triptan even when
# the articles only say "triptans". Used only for classes the corpus itself names.
STEM_CLASSES: tuple[tuple[str, str], ...] = (
    ("triptan", "triptan"), ("pril", "ACE inhibitor"), ("sartan", "ARB"),
    ("olol", "beta-blocker"), ("alol", "beta-blocker"), ("statin", "statin"),
    ("azepam", "benzodiazepine"), ("azolam", "benzodiazepine"), ("prazole", "PPI"),
    ("floxacin", "fluoroquinolone"), ("thromycin", "macrolide"), ("cycline", "tetracycline"),
    ("dipine", "calcium channel blocker"), ("gliflozin", "SGLT2 inhibitor"),
    ("gliptin", "DPP-4 inhibitor"), ("conazole", "azole"),
)
MIN_STEMMED_CHARS = 7  # "enalapril", not "april"


@dataclass
class Lexicon:
    """member (casefolded) -> its classes (as written, singular), and the reverse."""

    classes_of: dict[str, list[str]] = field(default_factory=dict)
    stems: dict[str, str] = field(default_factory=dict)  # name stem -> a class the corpus names

    def classes(self, name: str) -> list[str]:
        """The drug's classes: those the articles state, else the one its name's stem says."""
        key = name.casefold()
        stated = self.classes_of.get(key, [])
        if stated or len(key) < MIN_STEMMED_CHARS:
            return stated
        return [c for stem, c in self.stems.items() if key.endswith(stem) and key != stem][:1]

    def names(self) -> list[str]:
        """Every member and class name (for telling entities from other words)."""
        out = set(self.classes_of)
        for classes in self.classes_of.values():
            out.update(c.casefold() for c in classes)
        return sorted(out)

    @classmethod
    def build(cls, texts: Iterable[str]) -> Lexicon:
        lex = cls()
        n_classes: dict[str, int] = {}
        unnamed = dict(STEM_CLASSES)
        for text in texts:
            folded = text.casefold()
            for stem, klass in list(unnamed.items()):
                if re.search(rf"(?<![\w-]){re.escape(klass.casefold())}s?(?![\w-])", folded):
                    lex.stems[stem] = klass
                    del unnamed[stem]
            for member, klass in _pairs(text):
                key = klass.casefold()
                if key not in n_classes and len(n_classes) >= MAX_CLASSES:
                    continue
                if n_classes.get(key, 0) >= MAX_MEMBERS_PER_CLASS:
                    continue
                have = lex.classes_of.setdefault(member.casefold(), [])
                if all(c.casefold() != key for c in have):
                    have.append(klass)
                    n_classes[key] = n_classes.get(key, 0) + 1
        return lex

    def save(self, folder: Path) -> None:
        (folder / LEXICON_FILE).write_text(
            json.dumps({"classes_of": self.classes_of, "stems": self.stems}), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Lexicon | None:
        try:
            data = json.loads((folder / LEXICON_FILE).read_text(encoding="utf-8"))
            raw, stems = data["classes_of"], data["stems"]
            if not isinstance(raw, dict) or not isinstance(stems, dict):
                return None
            return cls({str(k): [str(c) for c in v] for k, v in raw.items()
                        if isinstance(v, list)}, {str(k): str(v) for k, v in stems.items()})
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _pairs(text: str) -> Iterable[tuple[str, str]]:
    text = _TAG.sub(" ", text)  # HTML in an article is markup, not words
    flat = " ".join(w for w in text.split() if len(w) <= MAX_WORD_CHARS)
    for pattern in (_SUCH_AS, _PAREN, _OTHER):
        for m in pattern.finditer(flat):
            klass = _class_name(m.group("c"))
            if klass:
                for member in re.split(r"\s*,\s*|,?\s+(?:and|or)\s+", m.group("m")):
                    if _is_member(member):
                        yield member, klass
    for m in _APPOSITION.finditer(flat):
        klass = _class_name(m.group("c") + "s")
        if klass and _is_member(m.group("m")):
            yield m.group("m"), klass


def _class_name(phrase: str) -> str | None:
    """'strong CYP3A4 inhibitors' -> 'CYP3A4 inhibitor'; None for a generic or non-drug word."""
    words = phrase.split()
    head = words[-1]
    if head.casefold() in GENERIC_CLASSES and (len(words) < 2 or not _modifies(words[-2])):
        return None
    if not head.endswith(_DRUG_CLASS_ENDINGS) or (head.casefold() in GENERIC_CLASSES and len(
            words) < 2):
        return None
    keep = words[-2:] if len(words) > 1 and _modifies(words[-2]) else [head]
    keep = [w if any(ch.isupper() for ch in w[1:]) else w.lower() for w in keep]
    return " ".join([*keep[:-1], keep[-1][:-1]])


def _modifies(word: str) -> bool:
    """A word that makes a generic class specific: 'CYP3A4', 'MAO', 'calcium-channel'."""
    return (bool(re.search(r"\d", word)) or (word.isupper() and len(word) >= 2)
            or ("-" in word and word.casefold() not in _NOT_MODIFIERS))


_NOT_MODIFIERS = frozenset({"over-the-counter", "non-prescription", "so-called", "well-known"})


def _is_member(word: str) -> bool:
    w = word.strip()
    return (MIN_MEMBER_CHARS <= len(w) <= MAX_WORD_CHARS and w.replace("-", "").isalpha()
            and not w[1:].isupper() and zipf(w.casefold()) < MEMBER_MAX_ZIPF)


