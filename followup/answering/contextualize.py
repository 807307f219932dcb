"""Follow-up understanding, offline: a conversation becomes one standalone question.

Deterministic rules, applied turn by turn so the topic is carried forward:

* an elliptical follow-up ("What about baclofen?", "And for children?") is read against the
  previous standalone question: ``"<previous> — what about baclofen?"``;
* a pronoun ("How long does it last?", "Is it safe in pregnancy?") is replaced by the topic of
  the previous turns (its focus phrase);
* a question that is too short to stand alone and names nothing new ("What are the symptoms?")
  gets the topic appended;
* a question that names its own subject and has neither pronoun nor ellipsis is a change of
  topic: nothing is carried.

The topic is the previous standalone question's focus phrase ("benzodiazepine withdrawal", "the
seed's muscle spasms"...), and the titles of the articles the previous answer cited when the
question itself gave none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from followup.text import STOPWORDS

# Words that ask *about* a subject without naming one.
GENERIC = frozenset(
    """what how long does do is are can could should would will cause causes caused causing
    treat treated treating treatment treatments therapy symptom symptoms sign signs risk risks
    safe safety dose doses dosing dosage effect effects side last lasts take taking taken use
    used using happen happens help manage managed management prevent prevention diagnose
    diagnosed diagnosis outlook prognosis inherit inherited inheritance complication
    complications work works mean means common often much many get gets much best first line
    recommended need needed needs who when where why which there usual usually typical
    typically start started starting stop stopped stopping give given about also else more
    other tell information info research studies study clinical trials trial genetic changes
    related related to type types expect patients patient people person adults adult look
    looking watch out know option options stage stages gene genes involved passed down family
    families test tests done outlook prognosis happen way ways main""".split()
)
MAX_TOPIC_WORDS = 8  # a longer "focus" is the leftover words of a long question, not a topic
MAX_TITLE_SUBJECT_WORDS = 4
_PRONOUN = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|this|these|those|that one|the drug|the medication|"
    r"the condition|the disease|this drug|this condition|the same)\b",
    re.IGNORECASE,
)
_ELLIPSIS = re.compile(
    r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*\??\s*$|"
    r"^\s*and\s+(?:for|with|in|on)?\s*(?P<y>.+?)\s*\??\s*$|"
    r"^\s*(?:same|also)\s+(?:for|with)\s+(?P<z>.+?)\s*\??\s*$",
    re.IGNORECASE,
)
_FOCUS_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^\s*what\s+(?:is|are)\s+\(are\)\s+(?P<f>.+?)\s*\??\s*$",
        r"\b(?:symptoms|signs|causes|treatments?|outlook|complications|risk factors|side "
        r"effects|dose|dosing|diagnosis|prevention)\s+(?:of|for)\s+(?P<f>.+?)\s*\??\s*$",
        r"^\s*(?:what|who)\s+(?:is|are)\s+(?:an?\s+|the\s+)?(?P<f>.+?)\s*\??\s*$",
        r"^\s*how\s+(?:should|do|does|can|is|are|must)\s+(?P<f>.+?)\s+(?:be\s+)?\w+ed\s*\??\s*$",
        r"^\s*how\s+(?:to|do you|do I|should I|can I)\s+\w+\s+(?P<f>.+?)\s*\??\s*$",
        r"^\s*how\s+(?:much|often|long|fast|quickly|soon)\s+(?:should|do|does|can|is|are|must|"
        r"will)\s+(?P<f>.+?)\s+be\s+\w+ed\b",
        r"^\s*(?:is|are|can|does|do|should)\s+(?P<f>.+?)\s+(?:cause|causes|safe|interact|"
        r"affect|raise|increase|lower|need)\b",
    )
]


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str
    cited: tuple[str, ...] = ()  # an answer's cited article ids (its metadata), when known


@dataclass(frozen=True)
class Interpretation:
    """The standalone reading of the last question."""

    standalone: str
    is_followup: bool
    topic: str | None  # the focus carried into this question (None when nothing was carried)
    focus: str  # this question's own focus, carried to the next one
    attached: bool = False  # the focus was added to a turn that named nothing (to be checked)
    candidates: tuple[str, ...] = ()  # a truly ambiguous "it": the entities it could be


def _content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9'-]*", text)
            if w.lower() not in STOPWORDS and w.lower() not in GENERIC]


def focus_of(question: str) -> str:
    """The subject a question asks about ("baclofen withdrawal", "Aarskog-Scott syndrome")."""
    q = question.strip()
    for pattern in _FOCUS_PATTERNS:
        m = pattern.search(q)
        if m:
            f = m.group("f").strip(" ?.")
            words = _content_words(f)
            if words:
                # keep the phrase as written, without a leading article
                return re.sub(r"^(?:the|a|an)\s+", "", f, flags=re.IGNORECASE)
    return " ".join(_content_words(q))


def title_subject(title: str) -> str:
    """What an article's question-title is about: "How is alcohol withdrawal recognized and
    managed?" -> "alcohol withdrawal"; "What happens when clonidine or a beta-blocker is
    stopped abruptly?" -> "clonidine"."""
    t = re.sub(r"^\s*(?:what|how|when|why|which|who)\s+(?:happens\s+when|is|are|should|can|do|"
               r"does|causes)?\s*", "", title, flags=re.IGNORECASE)
    t = re.sub(r"^\s*(?:is|are|can|does|do|should)\s+", "", t, flags=re.IGNORECASE)
    t = re.split(r"\s+(?:and|or|be|is|are|in|when|after|with|for|to)\b|[,?:;(]", t,
                 flags=re.IGNORECASE)[0]
    words = [w for w in t.split() if not (len(w) >= 5 and w.lower().endswith("ed"))]
    return " ".join(words[:MAX_TITLE_SUBJECT_WORDS])


_AUX = r"(?:is|are|was|were|can|could|does|do|did|should|will|would|has|have|must)"
_QUESTION_START = re.compile(  # a whole question: "How is …", "Is …" (not "What dose for …")
    rf"^\s*(?:(?:what|how|who|when|why|which|where)\s+{_AUX}|{_AUX})\b", re.IGNORECASE)


def _names_own(question: str, topic: str) -> bool:
    """Whether the question names a capitalised subject of its own, not part of the topic
    ("What is (are) Pineocytoma ?" after Gaucher disease): a change of topic."""
    topic_words = {w.lower() for w in _content_words(topic)}
    words = _content_words(_PRONOUN.sub(" ", question))
    first = question.split()[0] if question.split() else ""
    if words and words[0] == first:
        words = words[1:]  # a capital that only starts the sentence
    return any(w[:1].isupper() and w.lower() not in topic_words for w in words)


def _has_own_subject(question: str, topic: str) -> bool:
    topic_words = {w.lower() for w in _content_words(topic)}
    own = [w for w in _content_words(_PRONOUN.sub(" ", question))
           if w.lower() not in topic_words]
    return len(own) >= 1


def interpret(question: str, history: Sequence[Turn], cited_titles: Sequence[str] = ()
              ) -> Interpretation:
    """The standalone question for the last turn of a conversation.

    Args:
        question: the new question.
        history: earlier turns, oldest first (assistant turns are not read for topic).
        cited_titles: titles of the articles the previous answer cited (a topic of last resort).
    """
    standalone: str | None = None
    focus: str | None = None
    for turn in history:
        if turn.role != "user" or not turn.content.strip():
            continue
        step = _step(turn.content, standalone, focus, ())
        standalone, focus = step.standalone, step.focus
    return _step(question, standalone, focus, cited_titles)


_PREPOSITIONS = r"(?:in|for|with|during|after|on|at|while)"
_TRAILING_PHRASE = re.compile(rf"\s+(?P<p>{_PREPOSITIONS})\s+(?:(?!\b{_PREPOSITIONS}\b)[^?,;])+$",
                              re.IGNORECASE)
LEADING_PREPOSITION = re.compile(rf"^(?P<p>{_PREPOSITIONS})\b", re.IGNORECASE)
_CLAUSE_START = re.compile(r"^(?:if|when|whether|once|before|while|unless|she|he|they|we|i|"
                           r"you|it|she's|he's|they're|we're|i'm)\b", re.IGNORECASE)
MAX_MODIFIER_WORDS = 6  # a trailing phrase this short is the question's modifier


def restate(prev: str, x: str, preposition: str | None = None, keep: Sequence[str] = ()
            ) -> str:
    """The previous question asked again of ``x``: "What about patients taking lithium?" after
    "Should NSAIDs be avoided in chronic kidney disease?" -> "Should NSAIDs be avoided in
    patients taking lithium?" (a trailing modifier with the same preposition is replaced; else
    ``x`` is added, as a clause: "… stress dose if he gets flu?", or after ``preposition``)."""
    base = prev.rstrip(" ?.!")
    x = x.strip(" ?.!")
    if _CLAUSE_START.match(x):
        return f"{base} {x}?"
    lead = LEADING_PREPOSITION.match(x)
    if not lead and preposition is None:
        return f"{base} {x}?"
    phrase = x if lead else f"{preposition} {x}"
    prep = (lead.group("p") if lead else preposition or "").casefold()
    tail = _TRAILING_PHRASE.search(base)
    if tail and tail.group("p").casefold() == prep and len(tail.group(0).split()) <= \
            MAX_MODIFIER_WORDS and not any(k.casefold() in tail.group(0).casefold() for k in keep):
        base = base[:tail.start()]  # ("… with levothyroxine", the subject, is kept)
    return f"{base} {phrase}?"


def _step(question: str, prev: str | None, prev_focus: str | None,
          cited_titles: Sequence[str]) -> Interpretation:
    q = " ".join(question.split())
    topic = prev_focus or (cited_titles[0] if cited_titles else None)
    if prev_focus and len(prev_focus.split()) > MAX_TOPIC_WORDS:
        # "62yo drinking fifth day wants quit mild sx": not a topic; the cited article's is
        topic = (title_subject(cited_titles[0]) or None) if cited_titles else None
    if prev is None or not topic:
        return Interpretation(q, False, None, focus_of(q) or q)
    m = _ELLIPSIS.match(q)
    if m:
        x = (m.group("x") or m.group("y") or m.group("z") or "").strip(" ?.")
        standalone = restate(prev, x, "with")
        new_focus = f"{x} {topic}" if x.lower() not in topic.lower() else topic
        return Interpretation(standalone, True, topic, new_focus)
    if _PRONOUN.search(q):
        standalone = _PRONOUN.sub(lambda mm: topic, q, count=1)
        return Interpretation(standalone, True, topic, topic)
    content = _content_words(q)
    if not content or (len(content) <= 2 and not _has_own_subject(q, topic)):
        standalone = f"{q.rstrip(' ?.')} ({topic})?"
        return Interpretation(standalone, True, topic, topic)
    if _QUESTION_START.match(q) and _names_own(q, topic):
        return Interpretation(q, False, None, focus_of(q) or q)  # "What is (are) Pineocytoma ?"
    if len(content) <= 2 and len(q.split()) <= 5 and not (
            _QUESTION_START.match(q) and len(content) == 2 and _has_own_subject(q, topic)):
        # a short question naming one thing ("In pregnancy?", "When is the risk highest?") is
        # a follow-up; a whole question naming a two-word subject of its own ("How is
        # multiple sclerosis diagnosed?") is a change of topic
        standalone = (restate(prev, q) if LEADING_PREPOSITION.match(q)
                      else f"{q.rstrip(' ?.')} ({topic})?")
        return Interpretation(standalone, True, topic, topic)
    return Interpretation(q, False, None, focus_of(q) or q)
