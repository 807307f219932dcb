"""Answerability by what the question names: which of its words are chat, which are details of
the patient, which are ordinary English the articles happen not to use, and which name a thing
(a drug, a condition) that no article mentions.

* Chat filler ("pt", "ok", "she", "btw") and patient details typed in passing ("78yo", "1800 mg",
  "qhs", "x 6 mo") do not count against a passage: it is not less able to answer for not saying
  them.
* An ordinary English word the corpus never uses ("sweaty", "knee", "worried") is neither
  evidence for nor against a passage (English word frequencies from ``wordfreq``, offline).
* A rare word the corpus never uses, that is no prefix of a corpus word ("amio" → amiodarone)
  and no name in the synonyms table, names something the articles do not cover ("melatonin",
  "apixaban"): the question is refused, and the refusal says what is not covered.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping

from followup.text import STOPWORDS, stem, term_set

_RAW_FILLER = (
    "pt pts patient ok okay btw sorry meant mean ah hmm thanks thx pls please yes yeah fine "
    "she he her his him they them their i'm im ive i've we we're you your my mine me us "
    "she's he's it's that's there's what's whats it they're "
    "want wants wanted wanting thing things stuff come comes coming get gets getting go goes "
    "going take takes taking taken think thought like look looks looking really actually "
    "actual whole worth first also just still now today currently anyway anything something "
    "else gonna wanna kinda bit lot lots guess wondering wonder quick question doc doctor dr "
    "told tell say said saying ask asking asked know need needs needed")
CHAT_FILLER = frozenset(_RAW_FILLER.split()) | term_set(_RAW_FILLER)

# Patient details typed in passing: ages, doses, frequencies, durations.
_DETAIL = re.compile(
    r"^(\d+(\.\d+)?[a-z]{1,4}|\d+yo|yo|y/o|yr|yrs|mo|mos|wk|wks|mg|mcg|g|ml|qd|od|bid|tid|"
    r"qid|qhs|prn|po|iv|im|sc|daily|day|days|week|weeks|month|months|year|years|ago|old)$")

ENTITY_ZIPF = 2.95  # below this, a word of 5+ letters is a name (a drug, a condition)
MIN_NAME_CHARS = 5
# Names of drugs and classes that are common enough in English to miss ENTITY_ZIPF.
ENTITY_WORDS = frozenset(
    "alcohol opioid opioids lithium steroid steroids aspirin insulin caffeine nicotine "
    "beta-blocker beta-blockers antidepressant antidepressants "
    "anticoagulant anticoagulants diuretic diuretics statin statins thyroxine".split())
# How drug names end (clonidine, metoprolol, gabapentin, warfarin, omeprazole, apixaban …).
_DRUG_CORE = (
    "ine ol am il in ide one ate azole mab nib pril sartan statin cillin mycin cycline floxacin "
    "dipine olol tidine prazole pam lam fen xaban parin gliptin zide mide triptan vir ium").split()
# A rare unknown word that ends so names a drug no article covers ("melatonin", "apixaban",
# "dantrolene", "ezetimibe"); other rare words ("jittery", "pyelo") do not count.
_DRUG_ENDINGS = tuple([*_DRUG_CORE, "ole", "ban", "ene", "ibe"])
# Names of drugs, classes and conditions in a conversation: drug endings, their plurals, and
# conditions (fluoroquinolones, hyperkalaemia, thyrotoxicosis, myasthenia, neuropathy …).
_NAME_ENDINGS = tuple([*_DRUG_CORE, *"ines ols ams ins an ans ides ones ates".split(),
                       *"ics oid oids osis itis emia aemia algia pathy ism oma ia ias ase".split()])
_NOT_NAME_ENDINGS = ("able", "ible", "ous", "ful", "ive", "ly", "ness", "ment", "ing", "ed")
# Names of the synonyms table that are not entities of a conversation (shorthand of words).
NOT_ENTITIES = frozenset(w.casefold() for w in (
    "symptoms", "sx", "BP", "blood pressure", "HTN", "hypertension", "management", "mgmt",
    "discontinue", "d/c", "UTI", "AKI", "ECG", "EKG", "LFTs", "water pill", "blood thinner"))
COMMON_ZIPF = 3.0  # wordfreq Zipf frequency at or above which a word is ordinary English
MIN_ENTITY_CHARS = 4  # shorter unknown tokens are abbreviations we cannot judge
MIN_PREFIX_CHARS = 4  # "amio" finds "amiodarone"; shorter prefixes match too much
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]*")


def is_detail(term: str) -> bool:
    return bool(_DETAIL.match(term))


def subject_terms(terms: Iterable[str]) -> frozenset[str]:
    """The question's terms minus chat filler and patient details typed in passing."""
    return frozenset(t for t in terms if t not in CHAT_FILLER and not is_detail(t))


def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))


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


class Vocabulary:
    """The corpus's terms (the lexical index's document frequencies), for telling a word the
    articles use from one they never do."""

    def __init__(self, df: Mapping[str, int], extra_names: Iterable[str] = ()) -> None:
        self.df = df
        self._sorted = sorted(df)
        self._extra = frozenset(w.casefold() for w in extra_names)

    def known(self, term: str) -> bool:
        if self.df.get(term, 0) > 0:
            return True
        if len(term) < MIN_PREFIX_CHARS:
            return False
        i = bisect.bisect_left(self._sorted, term)
        return i < len(self._sorted) and self._sorted[i].startswith(term)

    def is_entity(self, raw: str) -> bool:
        """Whether a word as typed names a drug, a class or a condition (for the dialogue
        state): a name of the synonyms table, a drug or class word, or a rare word of 5+
        letters. Abbreviations count only when the synonyms table knows them."""
        word = raw.casefold()
        if word in NOT_ENTITIES:
            return False
        if word in self._extra or word in ENTITY_WORDS:
            return True
        if (len(word) < MIN_NAME_CHARS or sum(ch.isupper() for ch in raw) >= 2
                or word in CHAT_FILLER or not word.replace("-", "").isalpha()
                or word.endswith(_NOT_NAME_ENDINGS)):
            return False
        return _zipf(word) < ENTITY_ZIPF and (word.endswith(_NAME_ENDINGS)
                                              or self.known(stem(word)))

    def ordinary_unknown(self, term: str) -> bool:
        """A term the corpus never uses but that is ordinary English: no evidence either way."""
        return not self.known(term) and _zipf(term) >= COMMON_ZIPF

    def not_covered(self, question: str) -> list[str]:
        """Words of ``question`` that name something no article mentions (module docstring)."""
        out: list[str] = []
        for raw in _WORD.findall(question):
            word = raw.casefold().strip("'-")
            if (len(word) < MIN_ENTITY_CHARS or word in STOPWORDS or word in CHAT_FILLER
                    or word in self._extra or is_detail(word)):
                continue
            if sum(ch.isupper() for ch in raw) >= 2:
                continue  # an abbreviation ("DAPT", "T2DM", "LFTs"): we cannot judge it
            parts = [stem(p) for p in re.split(r"[-']", word) if p]
            if any(self.known(p) for p in parts) or self.known(word):
                continue
            if _zipf(word) < COMMON_ZIPF and word.endswith(_DRUG_ENDINGS):
                out.append(raw)
        return list(dict.fromkeys(out))
