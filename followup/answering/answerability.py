"""Answerability: the relevance gate (``Gate``: which retrieved passages may answer), and the
corpus's vocabulary it reads (``Vocabulary``).

The vocabulary judges what the question names: which of its words are chat, which are details of
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
from collections.abc import Callable, Iterable, Mapping, Sequence

from followup.answering.dialogue import entities_in
from followup.passages import Passage
from followup.retriever.hybrid import HybridRetriever
from followup.settings import Settings
from followup.synonyms import CLASSES, concepts, main_name, with_synonyms
from followup.text import STOPWORDS, stem, term_set, zipf

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
    r"qid|qhs|prn|po|iv|im|sc|daily|day|days|week|weeks|month|months|year|years|ago|old|"
    r"q\d{1,2}h|once|twice|thrice)$")

ENTITY_ZIPF = 2.95  # below this, a word of 5+ letters is a name (a drug, a condition)
MIN_NAME_CHARS = 5
# Names of drugs and classes that are common enough in English to miss ENTITY_ZIPF.
ENTITY_WORDS = frozenset(
    "alcohol opioid opioids lithium steroid steroids aspirin insulin caffeine nicotine "
    "beta-blocker beta-blockers antidepressant antidepressants "
    "anticoagulant anticoagulants diuretic diuretics statin statins thyroxine "
    # drug names common enough in English that their frequency hides them
    "methadone morphine heroin cocaine penicillin xanax valium viagra marijuana cannabis "
    "melatonin estrogen testosterone".split())
# How drug names end (clonidine, metoprolol, gabapentin, warfarin, omeprazole, apixaban …).
_DRUG_CORE = (
    "ine ol am il in ide one ate azole mab nib pril sartan statin cillin mycin cycline floxacin "
    "dipine olol tidine prazole pam lam fen xaban parin gliptin zide mide triptan vir ium "
    "gron flozin glutide dronate caine").split()
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
    "discontinue", "d/c", "UTI", "AKI", "ECG", "EKG", "LFTs", "water pill", "blood thinner",
    "treatment", "tx", "diagnosis", "dx", "differential diagnosis", "ddx", "antibiotics", "abx"))
COMMON_ZIPF = 3.0  # wordfreq Zipf frequency at or above which a word is ordinary English
MIN_ENTITY_CHARS = 4  # shorter unknown tokens are abbreviations we cannot judge
MIN_PREFIX_CHARS = 4  # "amio" finds "amiodarone"; shorter prefixes match too much
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]*")


def is_detail(term: str) -> bool:
    return bool(_DETAIL.match(term))


def subject_terms(terms: Iterable[str]) -> frozenset[str]:
    """The question's terms minus chat filler and patient details typed in passing."""
    return frozenset(t for t in terms if t not in CHAT_FILLER and not is_detail(t))


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
        if word in NOT_ENTITIES or (word.endswith("s") and word[:-1] in NOT_ENTITIES):
            return False
        if word in self._extra or word in ENTITY_WORDS:
            return True
        if (len(word) < MIN_NAME_CHARS or sum(ch.isupper() for ch in raw) >= 2
                or word in CHAT_FILLER or not word.replace("-", "").isalpha()
                or word.endswith(_NOT_NAME_ENDINGS)):
            return False
        return zipf(word) < ENTITY_ZIPF and (word.endswith(_NAME_ENDINGS)
                                              or self.known(stem(word)))

    def ordinary_unknown(self, term: str) -> bool:
        """A term the corpus never uses but that is ordinary English: no evidence either way."""
        return not self.known(term) and zipf(term) >= COMMON_ZIPF

    def not_covered(self, question: str) -> list[str]:
        """Words of ``question`` that name something no article mentions (module docstring),
        and the non-clinical matters (cost, insurance, law, devices' makers) none speaks of."""
        out: list[str] = []
        for raw in _WORD.findall(question):
            word = raw.casefold().strip("'-")
            if stem(word) in _NON_CLINICAL and not self.known(stem(word)):
                out.append(raw)  # "will my insurance pay for Valium?"
                continue
            if (len(word) < MIN_ENTITY_CHARS or word in STOPWORDS or word in CHAT_FILLER
                    or word in self._extra or is_detail(word)):
                continue
            if sum(ch.isupper() for ch in raw) >= 2:
                continue  # an abbreviation ("DAPT", "T2DM", "LFTs"): we cannot judge it
            parts = [stem(p) for p in re.split(r"[-']", word) if p]
            if any(self.known(p) for p in parts) or self.known(word):
                continue
            if zipf(word) < COMMON_ZIPF and word.endswith(_DRUG_ENDINGS):
                out.append(raw)
        return list(dict.fromkeys(out))


_RETURN_FRAME = re.compile(r"^\s*(?:ok[,.]?\s*)?(?:going\s+)?back\s+to\b", re.IGNORECASE)
# What clinical evidence articles do not answer, whatever drug it is asked of: money, insurance,
# the law, a device's maker (checked against the corpus: an article that speaks of it answers).
_NON_CLINICAL = frozenset(stem(w) for w in (
    "insurance insurer insured copay co-pay copays coupon coupons cost costs price prices "
    "pricing afford affordable cheaper cheapest expensive medicaid medicare reimburse "
    "reimbursement dmv lawsuit sue suing lawyer attorney legal liability manufacturer "
    "manufacturers warranty battery").split())

# An ordinary English word the corpus never uses ("knee", "sweaty", "vaccines") weighs this
# much of its IDF in the gate's coverage: little evidence against a passage, but some.
ORDINARY_UNKNOWN_WEIGHT = 0.3

Names = list[list[frozenset[str]]]  # a question's entities, each as the term sets naming it


MIN_PAIRED_ENTITIES = 2  # named entities an article discusses together: it answers about them
TOGETHER_ENTITIES = 2  # a turn asking of two things together needs an article naming both
_TOGETHER = re.compile(r"\b(?:with|w/|while\s+(?:on|taking|using)|together|combin\w*|mix\w*|"
                       r"interact\w*|on\s+top\s+of|alongside)\b", re.IGNORECASE)


class Gate:
    """Which retrieved passages may answer (none: the answer is the refusal). Thresholds are
    settings (README, "Answerability"); entities and classes come from the vocabulary and the
    corpus's lexicon, an article's words from ``article_terms``."""

    def __init__(self, settings: Settings, retriever: HybridRetriever,
                 vocabulary: Callable[[], Vocabulary],
                 article_terms: Callable[[str], frozenset[str]]) -> None:
        self.settings = settings
        self.retriever = retriever
        self.vocabulary = vocabulary
        self.article_terms = article_terms

    def passages(self, passages: Sequence[Passage], question: str = "") -> list[Passage]:
        """The passages relevant enough to answer ``question`` from."""
        s = self.settings
        groups = concepts(question) if question else []
        weights = self.term_weights(question, groups)  # once per question, not per passage
        scored = [(p, self.coverage(p, weights, groups)) for p in passages]
        names = self.entity_terms(question)
        known_words = self.all_known(weights)
        paired = self.known_entities(names)
        # the entities the articles know; the others are the patient's ("admitted w/
        # gastroenteritis") — a drug no article covers was refused before the gate
        known = self.named_in_articles(names)
        if self.indication_unknown(question, names, known):
            known = names  # "the dose of amoxicillin for otitis media": otitis is asked about
        preferred = [p for p, cov in scored
                     if (cov >= s.prefer_min_coverage and p.dense >= s.prefer_min_dense)
                     or p.dense >= s.prefer_strong_dense]
        passing = [p for p, cov in scored
                   if (cov >= s.answer_min_coverage and p.dense >= s.answer_min_dense)
                   or p.dense >= s.answer_strong_dense
                   or (p.dense >= s.answer_close_dense
                       and cov >= s.answer_close_coverage and known_words
                       and self.about(p, weights, groups, names))
                   or (names and p.dense >= s.answer_entity_dense
                       and cov >= s.answer_entity_coverage
                       and self.speaks_of(p, known or names))
                   or (len(paired) >= MIN_PAIRED_ENTITIES and p.dense >= s.answer_entity_dense
                       and self.discusses(p, paired))]
        if not preferred:
            return passing
        # the preferred passages' articles may answer from their other passing passages too
        articles = {p.chunk.article_id for p in preferred}
        chosen = {p.chunk.id for p in preferred}
        return preferred + [p for p in passing
                            if p.chunk.article_id in articles and p.chunk.id not in chosen]

    def with_focus(self, answering: list[Passage], search: str, text: str,
                   focus: Sequence[str]) -> list[Passage]:
        """The gate's passages plus the focus articles' passages that speak to the follow-up:
        the conversation has named the subject, so the turn's own words need not."""
        s = self.settings
        local = self.retriever.retrieve(search, s.passages_k, within=focus)
        groups = concepts(search)
        weights = self.term_weights(text, [])  # the turn's own subject words
        ok = [p for p in local
              if p.dense >= s.focus_min_dense
              or (p.dense >= s.answer_min_dense
                  and self.coverage(p, weights, groups) >= s.focus_min_coverage)]
        seen = {p.chunk.id for p in answering}
        merged = answering + [p for p in ok if p.chunk.id not in seen]
        return sorted(merged, key=lambda p: p.score, reverse=True)

    def whole_articles(self, answering: list[Passage], retrieved: Sequence[Passage]
                       ) -> list[Passage]:
        """The answering passages plus the other retrieved passages of their articles: once an
        article answers, the sentence that answers may stand in any of its passages."""
        if not answering:
            return answering
        articles = {p.chunk.article_id for p in answering}
        seen = {p.chunk.id for p in answering}
        extra = [p for p in retrieved
                 if p.chunk.article_id in articles and p.chunk.id not in seen]
        return sorted(answering + extra, key=lambda p: p.score, reverse=True)

    def all_known(self, weights: dict[str, float]) -> bool:
        """Whether every subject word of the question is one the articles use (or an ordinary
        English word, or a drug of a class they name): "migraine prophylaxis" is not."""
        vocab = self.vocabulary()
        lexicon = self.retriever.lexical().lexicon
        return all(vocab.known(t) or vocab.ordinary_unknown(t) or lexicon.classes(t)
                   for t in weights)

    def about(self, p: Passage, weights: dict[str, float], groups: Names, names: Names
              ) -> bool:
        """Whether the passage's article is about what is asked: its article names one of
        the question's entities, or (a question without entities) its title or section names
        one of the question's subject words."""
        if names:
            have = self.article_terms(p.chunk.article_id)
            return any(a <= have for alts in names for a in alts)
        fields = self.retriever.chunk_terms(p.chunk).fields
        return bool(fields & weights.keys()) or any(n <= fields for g in groups for n in g)

    def entity_terms(self, question: str) -> Names:
        """The question's entities, each as the term sets that name it (itself, its class in
        the synonyms table or the corpus's lexicon)."""
        out = []
        for name in entities_in(question, self.vocabulary().is_entity):
            alts = [term_set(name)] + [term_set(c) for c in self.kind_of(name)]
            out.append([a for a in alts if a])
        return [alts for alts in out if alts]

    def kind_of(self, name: str) -> list[str]:
        """The classes of a drug (or of the main name of its synonyms: "Bactrim" ->
        trimethoprim-sulfamethoxazole): the synonyms table's and the corpus's lexicon's."""
        lexicon = self.retriever.lexical().lexicon
        out: list[str] = []
        for n in (name, main_name(name)):
            key = n.casefold()
            out += ([CLASSES[key]] if key in CLASSES else []) + lexicon.classes(n)
        return list(dict.fromkeys(out))

    def with_classes(self, question: str) -> str:
        """The question with a drug's class from the corpus's lexicon after its first mention
        ("cipro (ciprofloxacin) (a fluoroquinolone)"), unless the class is named already."""
        lexicon = self.retriever.lexical().lexicon
        out = question
        for name in entities_in(question, self.vocabulary().is_entity):
            classes = lexicon.classes(name)
            if not classes or name.casefold() in CLASSES:
                continue
            if any(term_set(c) <= term_set(out) for c in classes):
                continue
            klass = classes[0]
            article = "an" if klass[:1].casefold() in "aeiou" else "a"
            m = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])(?:\s*\([^)]*\))?", out)
            if m:
                out = f"{out[:m.end()]} ({article} {klass}){out[m.end():]}"
        return out

    def indication_unknown(self, question: str, names: Names, known: Names) -> bool:
        """Whether an entity no article knows is what the drug is for ("… for otitis media"):
        then it is asked about, not a detail of the patient's."""
        unknown = [t for alts in names if alts not in known for t in alts[0]]
        if not unknown:
            return False
        stems = "|".join(map(re.escape, unknown))
        return bool(re.search(rf"\b(?:for|treat\w*)\s+(?:\w+\s+){{0,2}}(?:{stems})", question,
                              re.IGNORECASE))

    def named_in_articles(self, names: Names) -> Names:
        """The entities of ``names`` that some article names (by any of their term sets)."""
        vocab = self.vocabulary()
        return [alts for alts in names if any(all(vocab.known(t) for t in a) for a in alts)]

    def known_entities(self, names: Names) -> Names:
        """The question's entities that the articles name (a patient's indication, "for VRE
        bacteremia", is not one of them)."""
        known = self.named_in_articles(names)
        # "amoxicillin (a penicillin)": the class named beside a drug is the same entity;
        # "Zoloft (sertraline)": a brand and its drug too
        distinct = [alts for i, alts in enumerate(known)
                    if not any(j != i and alts[0] in other for j, other in enumerate(known))]
        mains = [term_set(main_name(" ".join(sorted(alts[0])))) for alts in distinct]
        return [alts for i, alts in enumerate(distinct) if mains.index(mains[i]) == i]

    def on_subject(self, search: str, answering: list[Passage]) -> list[Passage]:
        """The answering passages whose articles name one of the question's entities that the
        articles know (all of them when it names none): "her eGFR is 25, how should I adjust
        the gabapentin dose?" is not answered from the metformin article's eGFR bands."""
        names = self.named_in_articles([
            [term_set(n), term_set(main_name(n)), *map(term_set, self.kind_of(n))]
            for n in entities_in(search, self.vocabulary().is_entity)])
        if not names:
            return answering
        keep = {a for a in {p.chunk.article_id for p in answering}
                if any(any(n <= self.article_terms(a) for n in alts) for alts in names)}
        return [p for p in answering if p.chunk.article_id in keep]

    def unpaired(self, text: str, answering: Sequence[Passage]) -> list[str]:
        """The two drugs (or drug and substance) a turn asks about together ("can I drink beer
        while on metoprolol?") when no answering article names both: else []."""
        if not _TOGETHER.search(text):
            return []
        found = {n: [term_set(n), *map(term_set, self.kind_of(n))]
                 for n in entities_in(with_synonyms(text), self.vocabulary().is_entity)}
        names = self.known_entities(list(found.values()))
        if len(names) != TOGETHER_ENTITIES or not answering:
            return []
        for article_id in {p.chunk.article_id for p in answering}:
            have = self.article_terms(article_id)
            if all(any(a <= have for a in alts) for alts in names):
                return []
        return [n for n, alts in found.items() if any(alts is k for k in names)]

    def discusses(self, p: Passage, names: Names) -> bool:
        """Whether the passage's article names every one of ``names`` and the passage one."""
        have = self.article_terms(p.chunk.article_id)
        return (all(any(a <= have for a in alts) for alts in names)
                and self.speaks_of(p, names, every=False))

    def speaks_of(self, p: Passage, names: Names, every: bool = True) -> bool:
        """Whether the passage (text or title/section) names every entity of the question
        (or, ``every=False``, one of them)."""
        ct = self.retriever.chunk_terms(p.chunk)
        have = ct.body | ct.fields
        found = (any(a <= have for a in alts) for alts in names)
        return all(found) if every else any(found)

    def term_weights(self, question: str, groups: Names) -> dict[str, float]:
        """The IDF weight of each subject term of the question outside its named concepts;
        an ordinary English word the corpus never uses weighs ORDINARY_UNKNOWN_WEIGHT of it."""
        idf = self.retriever.lexical().idf
        grouped = {t for names in groups for name in names for t in name}
        vocab = self.vocabulary()
        asked = _RETURN_FRAME.sub(" ", question)  # "back to the metformin pt - …": chat
        return {t: idf(t) * (ORDINARY_UNKNOWN_WEIGHT if vocab.ordinary_unknown(t) else 1.0)
                for t in subject_terms(term_set(asked))
                if t not in grouped and not t.isdigit()}  # "COWS of 15": the patient's figure

    def coverage(self, p: Passage, weights: dict[str, float], groups: Names) -> float:
        """The passage's share of the question's IDF-weighted terms, where a thing named twice
        ("ibuprofen (an NSAID)") counts once and is covered by either name."""
        idf = self.retriever.lexical().idf
        ct = self.retriever.chunk_terms(p.chunk)
        have = ct.body | ct.fields
        total = sum(weights.values())
        covered = sum(w for t, w in weights.items() if t in have)
        for names in groups:
            weight = max(sum(idf(t) for t in name) for name in names)
            total += weight
            covered += weight if any(name <= have for name in names) else 0.0
        return covered / total if total else 0.0
