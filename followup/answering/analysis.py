"""Question analysis, offline and deterministic: what one turn asks, in its own words.

Entities (drugs, classes, conditions: the vocabulary with the corpus's lexicon), intents (dose,
timing, safety, mechanism, monitoring, presentation, management, risk, comparison…:
``followup.answer_type.INTENTS``), modifiers (the groups of patients the evidence differs for:
pregnancy, children, renal impairment…: ``followup.synonyms.POPULATIONS``), shorthand is read by
the synonyms table ("benzo", "MTX", "d/c") and patient details by the vocabulary ("78yo", "qhs").
The analysis also says when the turn cannot be answered from the articles whatever is retrieved:
it names something no article mentions, it addresses the answering system, or it is not in
English.
"""

from __future__ import annotations

from dataclasses import dataclass

from followup.answer_type import intents
from followup.answering.answerability import Vocabulary
from followup.answering.dialogue import entities_in
from followup.answering.guard import looks_foreign, looks_like_instruction
from followup.lexicon import Lexicon
from followup.synonyms import populations


@dataclass(frozen=True)
class Analysis:
    entities: tuple[str, ...]
    intents: tuple[str, ...]
    modifiers: frozenset[str]  # the groups of patients the turn speaks of
    not_covered: tuple[str, ...]  # words naming what no article mentions
    instruction: bool  # the turn addresses the answering system
    foreign: bool  # the turn is not in English

    def refusal_notice(self) -> str | None:
        """Why the turn is refused before any passage is read, or None."""
        if self.not_covered:
            return f"the articles do not mention {', '.join(self.not_covered)}"
        if self.instruction:
            return ("the question reads as an instruction to the answering system: only "
                    "questions about the articles are answered")
        if self.foreign:
            return ("the question does not look like English, the articles' language: ask it "
                    "in English")
        return None


def analyse(text: str, vocabulary: Vocabulary, lexicon: Lexicon | None = None) -> Analysis:
    """The analysis of one turn as typed (not its standalone rewrite). A drug no article names
    but whose class one does ("sumatriptan": the triptans) is not "not covered"."""
    classes = lexicon.classes if lexicon is not None else (lambda w: [])
    return Analysis(
        entities=tuple(entities_in(text, vocabulary.is_entity)),
        intents=tuple(intents(text)),
        modifiers=frozenset(populations(text)),
        not_covered=tuple(w for w in vocabulary.not_covered(text) if not classes(w)),
        instruction=looks_like_instruction(text),
        foreign=looks_foreign(text),
    )
