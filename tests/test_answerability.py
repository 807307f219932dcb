"""Answerability by what the question names: table-driven, no store needed."""

from __future__ import annotations

import pytest

from followup.answering.answerability import Vocabulary, subject_terms
from followup.text import term_set

CORPUS_DF = {t: 1 for t in term_set(
    "clonidine taper blood pressure amiodarone warfarin withdrawal symptoms dose gabapentin "
    "kidney function eGFR seizures")}


@pytest.mark.parametrize(("question", "kept"), [
    ("pt on gabapentin 1800mg qhs, ok to taper?", {"gabapentin", "taper"}),
    ("she's 78yo btw, does that change the dose?", {"chang", "dose"}),
    ("sorry I meant clonidine", {"clonidin"}),
])
def test_chat_filler_and_patient_details_do_not_count(question: str, kept: set[str]) -> None:
    assert subject_terms(term_set(question)) == kept


@pytest.mark.parametrize(("question", "missing"), [
    ("can I take melatonin to help me sleep in the meantime?", ["melatonin"]),
    ("what about apixaban instead of warfarin?", ["apixaban"]),
    ("amio and warfarin, ok?", []),  # a prefix of a corpus word: amiodarone
    ("my knee hurts and I feel sweaty since stopping clonidine", []),  # ordinary English
    ("on DAPT, what about warfarin?", []),  # an abbreviation we cannot judge
    ("is clonidine ok w/ Tylenol?", []),  # a name of the synonyms table
    ("What is the capital of France?", []),  # ordinary words: left to the relevance gate
    ("will my insurance pay for clonidine?", ["insurance"]),  # not what clinical articles say
    ("what's the DMV rule on driving with gabapentin?", ["DMV"]),
    ("does the cost of warfarin matter?", ["cost"]),
])
def test_not_covered_names_what_no_article_mentions(question: str, missing: list[str]) -> None:
    vocab = Vocabulary(CORPUS_DF, extra_names=["Tylenol", "acetaminophen"])
    assert vocab.not_covered(question) == missing


def test_a_non_clinical_matter_an_article_speaks_of_is_covered() -> None:
    vocab = Vocabulary({**CORPUS_DF, "cost": 1})
    assert vocab.not_covered("does the cost of warfarin matter?") == []


def test_ordinary_unknown_words_are_told_from_names() -> None:
    vocab = Vocabulary(CORPUS_DF)
    assert vocab.ordinary_unknown("knee") and not vocab.ordinary_unknown("melatonin")
    assert not vocab.ordinary_unknown("clonidin")  # known to the corpus
