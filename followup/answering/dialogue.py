"""Dialogue state across turns, by entity: which drugs or conditions the conversation is about,
so that a follow-up is rewritten as the question a clinician would have typed in full.

Rules, applied to the user's turns in order (``resolve``); ``None`` when the conversation has
named no entity yet (the older phrase rules of ``followup.answering.contextualize`` then apply):

* ellipsis with a new entity keeps the question and replaces the entity: "What about
  metoprolol?" after "Is it safe to stop clonidine suddenly?" -> "Is it safe to stop metoprolol
  suddenly?"; ellipsis with a modifier adds it: "And in children?" -> "… suddenly in children?";
* a correction ("no, I meant gabapentin") replaces the entity of the previous question;
* "both", "either", "the two", "which one" name the last two entities;
* a pronoun ("it", "they", "this") or a definite description ("the taper", "the dose", "those
  symptoms", "the combination") takes the focus entity;
* a question naming its own entity is a change of topic (or a return: "back to clonidine");
  with a pronoun and "also on X", the new entities join the focus ("He's also on ramipril.
  Does that matter?" -> "… with NSAIDs");
* "new patient", "different pt" clears the state.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from followup.answering.contextualize import (
    GENERIC,
    LEADING_PREPOSITION,
    Interpretation,
    Turn,
    focus_of,
    restate,
)
from followup.synonyms import main_name, populations, with_synonyms

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9'-]*")
_RESET = re.compile(
    r"^\s*(?:ok[,.]?\s*)?(?:new|different|another|next)\s+(?:pt|patient)\b[\s:,.-]*",
    re.IGNORECASE)
_CORRECTION = re.compile(
    r"^\s*(?:(?:no|sorry|oops|nope|ah|ok)[\s,.!-]*)*(?:i|I)\s+meant\s+(?P<x>.+?)\s*[?.!]*\s*$|"
    r"^\s*(?:(?:no|sorry|oops|nope|actually|correction)[\s,.:!-]*)+(?:it's\s+|it\s+is\s+)?"
    r"(?P<y>[A-Za-z][\w-]*),?\s+not\s+(?:the\s+)?[A-Za-z][\w-]*\s*[?.!]*\s*$",
    re.IGNORECASE)
_ELLIPSIS = re.compile(
    r"^\s*(?:ok[,.]?\s*|and\s+|so\s+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*\??\s*$|"
    r"^\s*and\s+(?P<y>(?:for|with|in|on)?\s*.+?)\s*\??\s*$|"
    r"^\s*(?:same|also)\s+(?:for|with|in)\s+(?P<z>.+?)\s*\??\s*$",
    re.IGNORECASE)
_PRONOUN = re.compile(r"\b(it|its|it's|they|them|their|this|that|these|those)\b", re.IGNORECASE)
_DEFINITE = re.compile(
    r"\b(?:the|that|this|those|these)\s+(?P<a>(?:whole|full|usual|max|maximum|starting|new|"
    r"right|last|next|first|daily|same|current|low|high|loading|missed|early|withdrawal)\s+)?"
    r"(?P<n>taper|tapering|dose|doses|dosing|level|levels|"
    r"combination|combo|interaction|withdrawal|symptoms|reaction|syndrome|drug|drugs|med|meds|"
    r"medication|medications|tablets|pills|rebound|toxicity|monitoring|side effects)\b",
    re.IGNORECASE)
# "both the NSAID and the ACEi" names its two: not a reference
_TWO = re.compile(r"\b(?:both(?: of them| drugs| meds)?(?!\s+(?:the\s+)?[\w-]+\s+and\s)|"
                  r"either(?: one| of them| drug)?|"
                  r"the two(?: drugs| meds)?|which one|the second one|the other one)\b",
                  re.IGNORECASE)
_RETURN = re.compile(r"^\s*(?:ok[,.]?\s*)?(?:going\s+)?back\s+to\b", re.IGNORECASE)
_CO_MEDICATION = re.compile(r"\b(?:also|as well|too|on top)\b", re.IGNORECASE)
_MODIFIER = re.compile(  # "In children?", "during pregnancy?": a short modifier
    r"^\s*(?P<m>(?:in|for|with|during|after|on|at)\s+\S+(?:\s+\S+){0,3})\s*\?\s*$",
    re.IGNORECASE)
# "Is it safe to …", "it's OK to …": a dummy "it", not a pronoun for the topic.
_DUMMY_IT = re.compile(
    r"\b(?:is it|it is|it's|would it be|is it still)\s+(?:\w+\s+)?(?:safe|ok|okay|possible|"
    r"fine|reasonable|better|wise|necessary|advisable|dangerous|bad|worth|true)\s+(?:to|for)\b"
    # "it's losartan, not ramipril", "it's omeprazole not eso": a correction names the drug
    r"|\b(?:it's|it\s+is)\s+(?:actually\s+|really\s+)?[\w-]+,?\s+not\b",
    re.IGNORECASE)
_EVENT = re.compile(r"\b(?:it|this|that)\s+(?:happens|happened|occurs|occurred|develops|"
                    r"developed|starts|started|comes on|shows up)\b", re.IGNORECASE)
# words that make a "focus phrase" the leftovers of chat, not a name ("He's atenolol well one")
_CHATTY = re.compile(r"\b(?:he's|she's|i'm|he|she|they|we|you|it|well|one|also|too|pt|ok|"
                     r"fwiw|btw|wants?|now|so)\b", re.IGNORECASE)
# "different pt - 78yo w/ CAD, same dx": a new patient, the same subject
_SAME_TOPIC = re.compile(r"\bsame\s+(?:dx|diagnosis|drug|med|medication|condition|problem|"
                         r"thing|issue|question|indication)\b", re.IGNORECASE)
# "back to the first pt", "back to the 78yo", "back to the pump pt": a patient described before
_PATIENT_WORDS = re.compile(r"\b(?:pt|patient|\d+\s*(?:yo|y/o|yr old|year old)|\d+[MF]|"
                            r"guy|lady|man|woman|gentleman|one)\b", re.IGNORECASE)
_FIRST = re.compile(r"\b(?:first|original|earlier|previous|other|1st)\b", re.IGNORECASE)
# "eGFR is 35 not 50": a figure of the previous question corrected
_FIGURE_FIX = re.compile(r"(?P<new>\d+(?:\.\d+)?)\s*(?:[a-z/%]+\s*)?,?\s*not\s+"
                         r"(?P<old>\d+(?:\.\d+)?)\b", re.IGNORECASE)
# "she's also on lisinopril", "he also wants ibuprofen": another drug of the same patient
_ALSO_ON = re.compile(r"\b(?:also|too)\s+(?:on|taking|takes|wants|started|starting|getting|"
                      r"gets|uses|using|has|had|needs)\b|\b(?:takes?|taking|on|uses?|using|"
                      r"gets?|getting)\s+\S+(?:\s+\S+)?\s+(?:too|as well)\b|"
                      r"\b(?:is|are|was|wants? to|will be|plans? to)\s+(?:adding|add|starting|"
                      r"start)\b", re.IGNORECASE)
# "worth switching her to diazepam first?": from the focus drug
_SWITCH_TO = re.compile(r"\b(?P<v>switch\w*|chang\w*|convert\w*|mov\w*)\s+(?P<o>(?:her|him|"
                        r"them|the\s+pt|the\s+patient|pt)\s+)?to\s+", re.IGNORECASE)
# "would amoxicillin be safer?": the new drug weighed against the focus
_COMPARATIVE = re.compile(r"\b(?:safer|better|preferable|preferred|instead|alternative|rather|"
                          r"worse|riskier)\b", re.IGNORECASE)
# "and if he just gets flu?": a clause, not a subject to carry
_CLAUSE = re.compile(r"^(?:if|when|whether|once|after|before|while|she|he|they|we|i|you|it|"
                     r"she's|he's|they're|what|how|why|is|are|does|do|can|should)\b",
                     re.IGNORECASE)
# "what about metoprolol, same problem?": the words that only say "the same question"
_FILLER = re.compile(r"[\s,;-]+(?:(?:is it |is that )?(?:the )?same (?:problem|rule|deal|issue|"
                     r"thing|question|risk|story|advice)|too|as well|also|then|instead|"
                     r"(?:on )?the list too)\s*$", re.IGNORECASE)
# "what about baclofen - does withdrawal happen with oral too?": a question of its own
_ASKING = r"(?:what|how|when|which|why|who|is|are|does|do|can|should|will|would)\b"
_OWN_QUESTION = re.compile(rf"\s(?:-|–|—|,)\s*{_ASKING}(?:\s+\S+){{2,}}", re.IGNORECASE)
_WH_QUESTION = re.compile(rf"^\s*{_ASKING}(?!\s+about\b)", re.IGNORECASE)
_A_THING = re.compile(r"^(?!(?:if|when|she|he|they|we|i|you|it|the|a|an|in|for|with|on|at|"
                      r"during|after)\b)[A-Za-z][\w-]*$", re.IGNORECASE)  # "dantrolene"
MAX_THREADS = 6  # earlier patients of the conversation kept for a return
_TRAILING_ADVERBS = re.compile(r"(?:\s+\w+ly)+\s*$")  # "clonidine suddenly" -> "clonidine"
_ARTICLES = re.compile(r"^(?:the|a|an|with|for|on|to)\s+", re.IGNORECASE)
MAX_SHORT_WORDS = 5  # a short question naming an entity is left to the phrase rules
MAX_FOCUS_WORDS = 4  # the previous question's focus phrase stands for a pronoun when this short
MAX_NAME_WORDS = 10  # ... or this long when it is a name ("Mycosis Fungoides and the Szary …")
MAX_BARE_WORDS = 3  # "metoprolol?" / "and gabapentin?": a bare entity is an ellipsis
MAX_ATTACH_WORDS = 14  # a follow-up naming nothing, up to this long, is about the focus


@dataclass
class _State:
    standalone: str | None = None
    asked: str = ""  # the previous user turn as typed (its focus phrase may stand for "it")
    focus: list[str] = field(default_factory=list)  # entities of the current topic, main first
    recent: list[str] = field(default_factory=list)  # every entity named, most recent first
    phrase: str = ""  # a subject asked about by ellipsis ("What about withdrawal seizures?")
    pending: str = ""  # a question answered by a clarifying question ("Do you mean X or Y?")
    told: str = ""  # what the user said about the current patient (the turns since a reset)
    threads: list[tuple[str, list[str]]] = field(default_factory=list)  # earlier patients


def entities_in(text: str, is_entity: Callable[[str], bool]) -> list[str]:
    """The entity words of ``text`` as typed, in order, once each (case-insensitively)."""
    seen: dict[str, str] = {}
    tokens = _TOKEN.findall(text)
    for i, raw in enumerate(tokens):
        word = raw.strip("'-")
        if word and word.casefold() not in seen and not _used_as_verb(tokens, i) \
                and is_entity(word):
            seen[word.casefold()] = word
    return list(seen.values())


_VERB_BEFORE = frozenset("i we you let's please".split())
_VERB_AFTER = frozenset("her him them me us".split())


def _used_as_verb(tokens: Sequence[str], i: int) -> bool:
    """"how fast do I titrate her?": a verb after a subject or before an object, not a drug
    ("can I give metoprolol" keeps metoprolol)."""
    before = tokens[i - 1].casefold() if i > 0 else ""
    after = tokens[i + 1].casefold() if i + 1 < len(tokens) else ""
    return before in _VERB_BEFORE or after in _VERB_AFTER


def _replace_word(text: str, old: str, new: str) -> str:
    out, n = re.subn(rf"(?<![\w-]){re.escape(old)}(?![\w-])", new, text, count=1,
                     flags=re.IGNORECASE)
    return out if n else text


# "this year", "that time": a determiner, not a pronoun
_DETERMINED = re.compile(r"\b(?:this|that|these|those)\s+(?:yr|year|years|week|weeks|wk|month|"
                         r"months|mo|morning|evening|afternoon|night|time|times|weekend|visit|"
                         r"point|stage|one|way|much|many|bad|high|low|long|often|fast|far)\b",
                         re.IGNORECASE)


def _has_pronoun(q: str) -> bool:
    return bool(_PRONOUN.search(_DETERMINED.sub(" ", _DUMMY_IT.sub(" ", _PEOPLE.sub(" ", q)))))


# "how often will they check my blood?": the clinicians, not the drugs
_PEOPLE = re.compile(r"\bthey\s+(?:check|do|give|say|said|aim|aiming|want|recommend|usually|"
                     r"normally|test|monitor|told|tell|look)\w*\b", re.IGNORECASE)
_PLURAL = re.compile(r"\b(?:them|they|their)\b", re.IGNORECASE)


def _referent(q: str, state: _State, own: Sequence[str], referent: str) -> str:
    """What a pronoun stands for: the other focus entity when the turn names the main one
    ("when she finishes it, what happens to her warfarin dose?" -> rifampin); the two focus
    drugs for "them" ("can I give them 12h apart?"); else ``referent``."""
    named = {e.casefold() for e in own}
    others = [e for e in state.focus if e.casefold() not in named
              and main_name(e).casefold() not in {main_name(n).casefold() for n in own}]
    if named and others and state.focus and state.focus[0].casefold() in named:
        return others[0]
    distinct = list(dict.fromkeys(main_name(e).casefold() for e in state.focus))
    if _PLURAL.search(_PEOPLE.sub(" ", q)) and len(distinct) >= 2 and not named:
        return " and ".join(state.focus[:2])
    return referent


def _sub_pronoun(q: str, name: str) -> str:
    def repl(m: re.Match[str]) -> str:
        w = m.group(1).lower()
        return {"its": f"{name}'s", "it's": f"{name} is", "their": f"{name}'s"}.get(w, name)

    dummy = [m.span() for m in (*_DUMMY_IT.finditer(q), *_DETERMINED.finditer(q))]
    for m in _PRONOUN.finditer(q):
        if not any(a <= m.start() < b for a, b in dummy):
            return q[:m.start()] + repl(m) + q[m.end():]
    return q


def _correct(q: str, prev: str, main: str, own: Sequence[str], in_prev: Sequence[str]) -> str:
    """"I meant X" (or "I meant X, not Y"): X replaces Y, else the entity the previous turn
    named (``in_prev``), else the focus entity, in the previous question."""
    negated = re.search(r"\bnot\s+(?:the\s+)?([A-Za-z][\w-]*)", q)
    old = next((e for e in own if negated and e.casefold() == negated.group(1).casefold()), None)
    new = next((e for e in own if e != old), own[0])
    def named(e: str) -> bool:
        return bool(re.search(rf"(?<![\w-]){re.escape(e)}(?![\w-])", prev, re.IGNORECASE))

    # the entity denied, else the one the previous turn named, else the focus
    target = next((e for e in (old, *in_prev, main) if e and named(e)), main)
    return _replace_word(prev, target, new)


def _name_two(q: str, candidates: Sequence[str]) -> str:
    """"both" -> "X and Y", "which one" -> "which of X and Y", "the other one" -> X."""
    first, second = candidates[1], candidates[0]  # the earlier one first

    def repl(m: re.Match[str]) -> str:
        w = m.group(0).lower()
        if w.startswith("which"):
            return f"which of {first} and {second}"
        if w.startswith("either"):
            return f"either {first} or {second}"
        if w in ("the other one", "the second one"):
            return first if w == "the other one" else second
        return f"{first} and {second}"

    return _TWO.sub(repl, q, count=1)


_CONDITION = re.compile(r"(?:syndrome|withdrawal|toxicity|disease|injury|insufficiency|"
                        r"failure|itis|emia|aemia|osis|ism|ia)$", re.IGNORECASE)


_NAME_JOINERS = frozenset({"and", "of", "the", "with", "type", "in", "or", "to", "de"})


def _is_name(phrase: str) -> bool:
    """A capitalised multi-word name ("Adult Acute Lymphoblastic Leukemia", "Plasma Cell
    Neoplasms (Including Multiple Myeloma)"), not a phrase of ordinary words."""
    words = [w.strip("()[],") for w in phrase.split()]
    words = [w for w in words if w]
    return len(words) >= 2 and all(w[:1].isupper() or w[:1].isdigit() or w.lower() in
                                   _NAME_JOINERS for w in words) and words[0][:1].isupper()


_DEFINITION = re.compile(r"^\s*what\s+(?:is|are)\s+(?:\(are\)\s+)?(?:an?\s+|the\s+)?"
                         r"(?P<f>[^?]+?)\s*\??\s*$", re.IGNORECASE)


def _defined_subject(q: str) -> str:
    """What a definitional question asks about, named whole ("glycogen storage disease type
    0"), or "" (none, or generic words: "What are the causes of diabetes?")."""
    m = _DEFINITION.match(q)
    subject = m.group("f").strip() if m else ""
    words = [w.lower().strip("(),") for w in subject.split()]
    framed = any(len(w) >= 4 and w in _FRAME for w in words) or all(w in GENERIC for w in words)
    return "" if framed else subject  # "the stages": no name


# words of a question's frame ("the causes of", "the max dose of"); those that also occur in
# names ("glycogen storage disease type 0", "Adult Acute Lymphoblastic Leukemia") are not
_FRAME = GENERIC - frozenset("type types stage stages adult adults related genetic first other "
                             "main family common typical".split())


def _defined(asked: str, phrase: str) -> bool:
    """Whether ``phrase`` is what a definitional question asked about ("What is (are) Bartter
    syndrome ?"), and no generic words ("max dose of apap" is not a name)."""
    m = _DEFINITION.match(asked)
    return bool(m and phrase and m.group("f").strip().casefold() == phrase.casefold()
                and not any(w.lower() in GENERIC for w in phrase.split()))


def _attach(q: str, name: str) -> str:
    """A follow-up naming nothing gets the focus: "next step?" -> "next step in serotonin
    syndrome?", "how quickly can dependence develop?" -> "… develop with lorazepam?"."""
    prep = "in" if _CONDITION.search(name.split(" and ")[0]) else "with"
    return f"{q.rstrip(' ?.!')} {prep} {name}?"


def _replace_kind(prev: str, kind: str, name: str) -> str:
    """"Should proton pump inhibitors be avoided …?" + pantoprazole -> "Should pantoprazole be
    avoided …?" (the class, singular or plural, with its article)."""
    pattern = rf"\b(?:(?:a|an|the)\s+)?{re.escape(kind)}s?(?![\w-])"
    return re.sub(pattern, name, prev, count=1, flags=re.IGNORECASE)


def _after_with(x: str, prev: str, in_prev: Sequence[str]) -> str | None:
    """"And with diltiazem?" after "… simvastatin dose with amlodipine?": the entity after the
    same preposition is the one replaced."""
    m = re.match(r"^\s*(with|on|plus)\s+", x, re.IGNORECASE)
    if not m:
        return None
    for e in in_prev:
        if re.search(rf"\b{m.group(1)}\s+(?:\w+\s+)?{re.escape(e)}(?![\w-])", prev,
                     re.IGNORECASE):
            return e
    return None


def _of_its_kind(new: str, among: Sequence[str], kind_of: Callable[[str], Sequence[str]]
                 ) -> list[str]:
    """The entities of ``among`` that share a class with ``new`` (omeprazole for
    pantoprazole: both PPIs)."""
    kinds = {k.casefold() for k in kind_of(new)}
    return [e for e in among if kinds & {k.casefold() for k in kind_of(e)}]


def _target(new: str, in_prev: Sequence[str], main: str,
            kind_of: Callable[[str], Sequence[str]]) -> str | None:
    """Which entity of the previous question an elliptical new one replaces: the one of its
    kind ("pantoprazole" replaces "omeprazole", both PPIs), else the main one, else the only
    one."""
    same = _of_its_kind(new, in_prev, kind_of)
    if same:
        return same[0]
    if any(e.casefold() == main.casefold() for e in in_prev):
        return main
    return in_prev[0] if len(in_prev) == 1 else None


_SINGULAR = re.compile(r"\b(?:it|its|it's|this one|that one|this drug|that drug)\b",
                       re.IGNORECASE)
_ALTERNATIVES = r"\s*(?:,?\s*or|vs\.?|versus)\s+(?:the\s+)?"


def _ambiguous(q: str, state: _State) -> tuple[str, str] | None:
    """The two entities a singular "it" could mean when the previous question set them side by
    side ("Which is safer, sertraline or citalopram?" then "What dose of it?"), else None."""
    if len(state.focus) < 2 or not _SINGULAR.search(_DETERMINED.sub(" ", _DUMMY_IT.sub(" ", q))):
        return None
    a, b = state.focus[0], state.focus[1]
    pattern = (rf"(?<![\w-])(?:{re.escape(a)}{_ALTERNATIVES}{re.escape(b)}|"
               rf"{re.escape(b)}{_ALTERNATIVES}{re.escape(a)})(?![\w-])")
    if re.search(pattern, state.asked, re.IGNORECASE):
        return (a, b)
    return None


_ASKS = re.compile(rf"\b{_ASKING}(?P<rest>[^?.!]*)", re.IGNORECASE)
MIN_OWN_QUESTION_WORDS = 3  # "what ECG monitoring does methadone need": a question of its own


def _asks_of(q: str, own: Sequence[str]) -> bool:
    """Whether the turn asks its own question about one of its new entities ("he's also been on
    methadone - what ECG monitoring does methadone need?"), not about the combination ("he's
    also on warfarin. what about that one?")."""
    for m in _ASKS.finditer(q):
        rest = m.group("rest")
        if len(rest.split()) >= MIN_OWN_QUESTION_WORDS and any(
                re.search(rf"(?<![\w-]){re.escape(e)}(?![\w-])", rest, re.IGNORECASE)
                for e in own):
            return True
    return False


def _weighed(q: str, new: str, state: _State, in_prev: Sequence[str],
             kind_of: Callable[[str], Sequence[str]]) -> tuple[str, str]:
    """"Would ramipril be better?" after lisinopril -> "… better than lisinopril?": the new
    drug against the one of its kind; else with the focus ("Would amoxicillin be safer?" ->
    "… safer with methotrexate and bactrim?"). Also the rival ("" when none)."""
    same = _of_its_kind(new, in_prev, kind_of)
    if not same:
        return f"{q.rstrip(' ?.')} with {_focus_name(state)}?", ""
    rival = same[0]
    others = [e for e in state.focus if e.casefold() not in (rival.casefold(), new.casefold())]
    with_others = f" with {' and '.join(others[:2])}" if others else ""
    return f"{q.rstrip(' ?.')} than {rival}{with_others}?", rival


def _new_thread(state: _State, keep: bool) -> None:
    """A new patient: the current one is kept for a return; the subject too when ``keep``."""
    if state.focus:
        state.threads = [*state.threads, (state.told, list(state.focus))][-MAX_THREADS:]
    state.told = ""
    if not keep:
        state.standalone, state.focus = None, []


def _returned_to(q: str, state: _State) -> list[str] | None:
    """The focus of the earlier patient a "back to the 78yo" / "back to the first pt" turn
    means (the current patient kept for another return), or None."""
    if not state.threads or not _PATIENT_WORDS.search(q):
        return None
    words = set(_TOKEN.findall(q.casefold())) - {"back", "to", "the", "pt", "patient", "ok"}
    overlap = [len(words & set(_TOKEN.findall(told.casefold()))) for told, _ in state.threads]
    which = _FIRST.search(q)
    if which and which.group(0).casefold() in ("first", "1st", "original"):
        i = 0
    elif max(overlap) > 0:
        i = overlap.index(max(overlap))
    elif _FIRST.search(q) or len(state.threads) == 1:
        i = len(state.threads) - 1
    else:
        return None
    told, focus = state.threads[i]
    if state.focus:
        state.threads[i] = (state.told, list(state.focus))
    state.told = told
    return list(focus)


# Everyday names of a kind of drug that the corpus's lexicon does not give as a class, and the
# drugs of the articles they name ("going back to the anticoagulant" -> warfarin).
_KINDS: dict[str, frozenset[str]] = {kind: frozenset(members.split()) for kind, members in (
    ("anticoagulant", "warfarin coumadin jantoven apixaban rivaroxaban dabigatran"),
    ("blood thinner", "warfarin coumadin jantoven apixaban rivaroxaban dabigatran"),
    ("antibiotic", "ciprofloxacin cipro levofloxacin levaquin moxifloxacin clarithromycin "
                   "erythromycin azithromycin bactrim trimethoprim-sulfamethoxazole linezolid "
                   "rifampin amoxicillin metronidazole"),
    ("antidepressant", "sertraline zoloft fluoxetine prozac citalopram celexa escitalopram "
                       "lexapro paroxetine paxil venlafaxine effexor duloxetine"),
    ("steroid", "prednisone prednisolone hydrocortisone dexamethasone methylprednisolone"),
    ("diuretic", "furosemide lasix hydrochlorothiazide hctz spironolactone chlorthalidone"),
    ("water pill", "furosemide lasix hydrochlorothiazide hctz spironolactone chlorthalidone"),
    ("muscle relaxant", "baclofen"),
)}


# "the steroid cream", "the SSRI class", "the PPI choice": not the drug named earlier
_NOT_THE_DRUG = ("class|group|family|cream|ointment|gel|inhaler|spray|drops|injection|shot|"
                 "choice|advice|question|issue|part|side")


def _described(q: str, recent: Sequence[str], kind_of: Callable[[str], Sequence[str]]) -> str:
    """"the anticoagulant", "the statin" for the one drug of that kind named earlier: the
    turn with the drug's name instead ("going back to warfarin, …"). Not when the turn names
    a drug of that kind itself, nor for the kind as such ("the SSRI class")."""
    named = [e for e in recent
             if re.search(rf"(?<![\w-]){re.escape(e)}(?![\w-])", q, re.IGNORECASE)]
    for drug in recent:
        kinds = [*kind_of(drug), *(k for k, members in _KINDS.items()
                                   if drug.casefold() in members)]
        others = [e for e in named if e.casefold() != drug.casefold()]
        for kind in kinds:
            m = re.search(rf"\bthe\s+{re.escape(kind)}(?![\w-])(?!\s+(?:{_NOT_THE_DRUG}))",
                          q, re.IGNORECASE)
            if m and not any(kind.casefold() in map(str.casefold, kind_of(e)) for e in others):
                return f"{q[:m.start()]}{drug}{q[m.end():]}"
    return q


def _tidy(q: str) -> str:
    q = " ".join(q.split()).strip()
    return q if q.endswith("?") else q.rstrip(" .!") + "?"


def _focus_name(state: _State) -> str:
    return " and ".join(state.focus[:2]) if state.focus else ""


def _step(q: str, state: _State, is_entity: Callable[[str], bool],
          kind_of: Callable[[str], Sequence[str]] = lambda e: ()) -> Interpretation | None:
    q = " ".join(q.split())
    reset = _RESET.match(q)
    same_topic = False
    if reset:
        q = q[reset.end():] or q
        same_topic = bool(state.focus) and (bool(_SAME_TOPIC.search(q)) or (
            _has_pronoun(q) and all(_CONDITION.search(e) or e.isupper()
                                    for e in entities_in(q, is_entity))))  # "… avoid it?"
        _new_thread(state, keep=same_topic)
    if not reset:
        q = _described(q, state.recent, kind_of)
    state.told = f"{state.told} {q}".strip()
    own = entities_in(q, is_entity)
    back = _returned_to(q, state) if _RETURN.match(q) else None
    if back is not None:
        state.focus = [*back, *own]
        state.standalone = state.standalone or q
    prev, main = state.standalone, (state.focus[0] if state.focus else None)

    def done(standalone: str, focus: list[str], followup: bool, attached: bool = False
             ) -> Interpretation:
        standalone = _tidy(standalone)
        state.asked = q if own or not state.asked else state.asked  # where the entity was named
        state.standalone, state.focus = standalone, focus
        state.phrase = "" if own else state.phrase
        state.recent = list(dict.fromkeys([*own, *focus, *state.recent]))[:8]
        topic = _focus_name(state) if followup else None
        return Interpretation(standalone, followup, topic, _focus_name(state) or standalone,
                              attached)

    if prev is None or main is None:
        named = _defined_subject(q)  # "What is (are) glycogen storage disease type 0 ?"
        return done(q, [named, *(e for e in own if e.casefold() not in named.casefold())]
                    if named else own, False)
    detail = _with_detail(q, prev) if not own else None
    if detail is not None:  # "his eGFR is actually 28, not 35", "her CrCl is 25 by C-G"
        return done(detail, state.focus, True)
    pending, state.pending = state.pending, ""
    if pending and own and len(q.rstrip(" ?.").split()) <= MAX_BARE_WORDS:
        rest = [e for e in state.focus if e.casefold() != own[0].casefold()]
        return done(_sub_pronoun(pending, own[0]), [own[0], *rest], True)  # "clonidine."
    name = _focus_name(state)
    if same_topic or back is not None:  # "same dx. starting dose?", "back to the 78yo - …"
        if _DEFINITE.search(q):
            text = _DEFINITE.sub(lambda m: f"the {m.group('a') or ''}{main} {m.group('n')}", q,
                                 count=1)
        else:
            drug = next((e for e in state.focus if not _CONDITION.search(e)), main)
            text = _sub_pronoun(q, drug) if _has_pronoun(q) else _attach(q, name)
        return done(text, [*state.focus, *own], True)  # said outright: no fit test
    figure = _FIGURE_FIX.search(q)
    if figure and re.search(rf"(?<![\d.]){re.escape(figure.group('old'))}(?![\d.])", prev):
        return done(re.sub(rf"(?<![\d.]){re.escape(figure.group('old'))}(?![\d.])",
                           figure.group("new"), prev, count=1), state.focus, True)
    new_own = [e for e in own if e.casefold() not in {f.casefold() for f in state.focus}]
    switch = _SWITCH_TO.search(q)
    if new_own and switch and main.casefold() not in q.casefold():
        return done(q[:switch.end() - 3] + f" from {main} to " + q[switch.end():],
                    [*new_own, *state.focus], True)
    if new_own and _ALSO_ON.search(q) and not _asks_of(q, new_own):
        return done(f"{q.rstrip(' ?.')} with {name}", [*state.focus, *new_own], True)
    if new_own and _COMPARATIVE.search(q) and len(q.split()) <= MAX_SHORT_WORDS:
        text, rival = _weighed(q, new_own[0], state, entities_in(prev, is_entity), kind_of)
        return done(text, [*new_own, *state.focus] if rival else [*state.focus, *new_own], True)
    subject = _defined_subject(q)
    if subject and not any(
            f.casefold() in subject.casefold() or subject.casefold() in f.casefold()
            for f in state.focus):  # "What is (are) Pineocytoma ?": a new topic, named whole
        state.asked = q
        return done(q, [subject, *(e for e in own if e.casefold() not in subject.casefold())],
                    False)
    fix = _CORRECTION.match(q)
    if fix and own:
        return done(_correct(q, prev, main, own, entities_in(state.asked, is_entity)),
                    [own[0], *state.focus[1:]], True)
    candidates = list(dict.fromkeys([*own, *state.recent]))
    two = _TWO.search(q) and len(candidates) >= 2
    ell = _ELLIPSIS.match(q) or (_MODIFIER.match(q) if not own else None)
    if two and not (ell and not own):
        return done(_name_two(q, candidates), candidates[:2], True)
    bare = own and len(q.rstrip(" ?.").split()) <= MAX_BARE_WORDS
    if ell or bare:
        x = (next((g for g in ell.groups() if g), q) if ell else q).strip(" ?.")
        if own and _OWN_QUESTION.search(x):  # "what about baclofen - does it happen with oral?"
            return done(q, [*own, *state.focus], False)
        x = _FILLER.sub("", x)  # "metoprolol, same problem" -> "metoprolol"
        if ell and not own and _A_THING.match(x) and not populations(x) \
                and not LEADING_PREPOSITION.match(x):
            own = [x]  # "what about dantrolene?": a thing asked about, known or not
        if own:
            just_the_entity = _ARTICLES.sub("", x).casefold() == own[0].casefold()
            in_prev = entities_in(prev, is_entity)
            kind = with_synonyms(own[0])[len(own[0]):].strip(" ()")  # "a proton pump inhibitor"
            same_kind = bool(kind) and _ARTICLES.sub("", kind).casefold() in prev.casefold()
            target = _after_with(x, prev, in_prev) or _target(own[0], in_prev, main, kind_of)
            if just_the_entity and target and not same_kind and re.search(
                    rf"(?<![\w-]){re.escape(target)}(?![\w-])", prev, re.IGNORECASE):
                rest = [e for e in state.focus if e.casefold() != target.casefold()]
                return done(_replace_word(prev, target, own[0]), [*own, *rest], True)
            if just_the_entity and same_kind:  # "… proton pump inhibitors …" -> pantoprazole
                return done(_replace_kind(prev, _ARTICLES.sub("", kind), own[0]),
                            [*own, *state.focus], True)
            if bare and not ell:  # "cyproheptadine dosing": a question of its own
                return done(q, [*own, *state.focus], False)
            return done(restate(prev, x, "with", keep=state.focus[:1]), [*own, *state.focus],
                        True)
        if two:
            return done(f"{prev.rstrip(' ?.')} {_name_two(x, candidates)}", candidates[:2],
                        True)
        if x[:1].isupper() and not x[1:2].isupper():
            x = x[0].lower() + x[1:]  # "In children?" joins the question: "… in children?"
        out = done(restate(prev, x, "in" if populations(x) else None, keep=state.focus[:1]),
                   state.focus, True)
        if not _MODIFIER.match(f"{x}?") and not _CLAUSE.match(x):
            state.phrase = _ARTICLES.sub("", x)  # "withdrawal seizures": the subject now
        return out
    name = _focus_name(state)
    phrase = _TRAILING_ADVERBS.sub("", focus_of(state.asked)) if state.asked else ""
    # "Adult Acute Lymphoblastic Leukemia", "Bartter syndrome": a name, kept whole
    titled = _is_name(phrase) or _defined(state.asked, phrase)
    words = [w.casefold() for w in phrase.split()]
    at = sorted(words.index(e.casefold()) for e in state.focus if e.casefold() in words)
    mixed = any(b - a > 1 for a, b in itertools.pairwise(at))  # two things apart, not a name
    referent = (phrase if main.casefold() in phrase.casefold() and not _CHATTY.search(phrase)
                and not mixed  # "rifampin problem clonidine" is not one thing
                and len(phrase.split()) <= (MAX_NAME_WORDS if titled else MAX_FOCUS_WORDS)
                else main)
    if titled and referent == phrase:
        name = phrase
    if own:
        if _RETURN.match(q):
            return done(_sub_pronoun(q, own[0]) if _has_pronoun(q) else q, own, False)
        if _has_pronoun(q) and _CO_MEDICATION.search(q) and not _asks_of(q, own):
            return done(f"{q.rstrip(' ?.')} with {name}", [*state.focus, *own], True)
    pair = _ambiguous(q, state) if not own else None
    if pair:
        state.pending = q  # the answer to the clarifying question names one of the pair
        return Interpretation(_tidy(q), True, _focus_name(state), _focus_name(state),
                              candidates=pair)
    if _DEFINITE.search(q):
        several = ", ".join(state.focus[:3]) if len(state.focus) > 2 else name
        if titled and referent == phrase:  # "the symptoms of Adult Acute Lymphoblastic Leukemia"
            if _has_pronoun(q):  # "What are the symptoms of it?"
                return done(_sub_pronoun(q, phrase), [*state.focus, *own], True)
            return done(_DEFINITE.sub(lambda m: f"{m.group(0)} of {phrase}", q, count=1),
                        [*state.focus, *own], True)
        return done(_DEFINITE.sub(lambda m: f"the {m.group('a') or ''}{several} {m.group('n')}",
                                  q, count=1),
                    [*state.focus, *own], True)
    if _EVENT.search(q):
        return None  # "if it happens": the event asked about before, not the drug
    if _has_pronoun(q):
        return done(_sub_pronoun(q, _referent(q, state, own, referent)), [*state.focus, *own],
                    True)
    if own and (len(q.split()) > MAX_SHORT_WORDS or _WH_QUESTION.match(q)):
        return done(q, own, False)  # "What dose of cyproheptadine?": a question of its own
    if not own and len(q.split()) <= MAX_ATTACH_WORDS:
        target = state.phrase or (referent if referent != main else name)
        return done(_attach(q, target), state.focus, True, True)
    return None  # nothing to resolve by entity: the phrase rules of contextualize decide


def _bring_forward(state: _State, named: Sequence[str]) -> None:
    """A refused turn leaves the topic as it was, but the focus entity it named comes first
    ("can I drink beer while on metoprolol?" refused: the next "it" is metoprolol)."""
    keys = {n.casefold() for n in named}
    first = [e for e in state.focus if e.casefold() in keys]
    if first:
        state.focus = [*first, *(e for e in state.focus if e.casefold() not in keys)]
        state.phrase = ""


_FIGURE_FIX = re.compile(r"(?P<new>\d+(?:\.\d+)?)\s*,?\s*(?:and\s+)?not\s+(?P<old>\d+(?:\.\d+)?)\b",
                        re.IGNORECASE)


def _with_detail(q: str, prev: str) -> str | None:
    """A turn that only tells a figure of the patient's re-asks the previous question with it:
    a corrected figure replaces the old one ("eGFR is actually 28, not 35"), a new one is
    added ("her CrCl is 25 by cockcroft-gault" -> "Her CrCl is 25 …. <previous question>").
    None when the turn asks something itself or gives no figure."""
    fix = _FIGURE_FIX.search(q)
    if fix:
        old = rf"(?<![\d.]){re.escape(fix.group('old'))}(?!\d|\.\d)"
        if re.search(old, prev):
            return re.sub(old, fix.group("new"), prev, count=1)
    if "?" in q or _WH_QUESTION.match(q) or not re.search(r"\d", q):
        return None
    said = _RESET.sub("", q.strip()).strip(" ,.;")
    return f"{said[:1].upper()}{said[1:]}. {prev.strip()}" if said else None


def resolve(question: str, history: Sequence[Turn], is_entity: Callable[[str], bool],
            refused: Callable[[Turn], bool] = lambda t: False,
            kind_of: Callable[[str], Sequence[str]] = lambda e: ()) -> Interpretation | None:
    """The standalone reading of ``question`` by entity state, or None when no turn so far
    (this one included) names an entity. A user turn whose answer was the refusal
    (``refused`` of the assistant turn after it) leaves the state as it was: a gap."""
    state = _State()
    named = False
    for i, turn in enumerate(history):
        gap = i + 1 < len(history) and history[i + 1].role == "assistant" and refused(
            history[i + 1])
        if turn.role == "user" and turn.content.strip() and gap:
            _bring_forward(state, entities_in(turn.content, is_entity))
        elif turn.role == "user" and turn.content.strip():
            named = bool(entities_in(turn.content, is_entity)) or named
            if _step(turn.content, state, is_entity, kind_of) is None:
                state.standalone = " ".join(turn.content.split())  # read by the phrase rules
                state.asked = state.asked or state.standalone
    if not named:
        return None
    return _step(question, state, is_entity, kind_of)
