"""The dialogue state's resolution rules, table-driven (no store, no model)."""

from __future__ import annotations

import pytest

from followup.answering.answerability import Vocabulary
from followup.answering.contextualize import Turn
from followup.answering.dialogue import resolve
from followup.synonyms import CLASSES, GROUPS
from followup.text import term_set

_NAMES = [n for g in GROUPS for n in g] + list(CLASSES) + list(CLASSES.values())
VOCAB = Vocabulary({t: 1 for t in term_set("clopidogrel pantoprazole whammy clonidine amlodipine "
                                           "diltiazem simvastatin")},
                   [*_NAMES, *(f"{n}s" for n in _NAMES)])


KINDS = {"ramipril": ["ACE inhibitor"], "lisinopril": ["ACE inhibitor"], "losartan": ["ARB"]}


def _last(turns: list[str]) -> str | None:
    history = [Turn("user", t) for t in turns[:-1]]
    got = resolve(turns[-1], history, VOCAB.is_entity, kind_of=lambda e: KINDS.get(e, []))
    return got.standalone if got else None


@pytest.mark.parametrize(("turns", "standalone"), [
    # ellipsis with a new entity: same question, entity replaced
    (["Is it safe to stop clonidine suddenly?", "What about metoprolol?"],
     "Is it safe to stop metoprolol suddenly?"),
    # a definite description takes the focus entity
    (["Is it safe to stop clonidine suddenly?", "What about metoprolol?",
      "How long should the taper be?"], "How long should the metoprolol taper be?"),
    # "both" names the last two entities
    (["Is it safe to stop clonidine suddenly?", "What about metoprolol?",
      "How long should the taper be?", "And if they take both?"],
     "How long should the metoprolol taper be if they take clonidine and metoprolol?"),
    # "which of the two", then a correction
    (["pregabalin withdrawal symptoms?", "and gabapentin?", "Which of the two is more abusable?"],
     "Which of pregabalin and gabapentin is more abusable?"),
    (["pregabalin withdrawal symptoms?", "and gabapentin?", "Which of the two is more abusable?",
      "no, I meant baclofen"], "Which of pregabalin and baclofen is more abusable?"),
    # a co-medication joins the focus; "the combination" names them
    (["Are NSAIDs OK in CKD?", "He's also on ramipril and furosemide. Does that matter?"],
     "He's also on ramipril and furosemide. Does that matter with NSAIDs?"),
    # a new drug of the class asked about takes the class's place
    (["Should proton pump inhibitors be avoided in patients taking clopidogrel?",
      "What about pantoprazole?"],
     "Should pantoprazole be avoided in patients taking clopidogrel?"),
    # a pronoun takes the phrase the entity was named in
    (["What are the typical symptoms of SSRI discontinuation syndrome?",
      "How long do they last?"], "How long do SSRI discontinuation syndrome last?"),
    # a short modifier is added to the previous question
    (["Is it safe to stop clonidine suddenly?", "In children?"],
     "Is it safe to stop clonidine suddenly in children?"),
    # a question naming its own entity at length is a change of topic
    (["Is it safe to stop clonidine suddenly?",
      "Separate question: what is the maximum daily dose of acetaminophen for adults?"],
     "Separate question: what is the maximum daily dose of acetaminophen for adults?"),
])
def test_resolution_rules(turns: list[str], standalone: str) -> None:
    assert _last(turns) == standalone


@pytest.mark.parametrize("turns", [
    ["Can withdrawal cause muscle spasms?", "What about baclofen?"],  # no entity before
    ["Do fluoroquinolones cause tendon rupture?", "What should be done if it happens?"],  # event
])
def test_left_to_the_phrase_rules(turns: list[str]) -> None:
    assert _last(turns) is None


def test_new_patient_clears_the_state() -> None:
    turns = ["Is it safe to stop clonidine suddenly?", "new patient: how long does the taper take?"]
    assert _last(turns) is None or "clonidine" not in (_last(turns) or "")


def test_a_long_history_stays_bounded() -> None:
    turns = ["Is it safe to stop clonidine suddenly?", "What about metoprolol?"] * 100
    assert "metoprolol" in (_last([*turns, "How long should the taper be?"]) or "")


@pytest.mark.parametrize(("turns", "standalone"), [
    (["68M on prednisone 10mg for PMR, needs abx. cipro ok?",
      "sorry, I meant levofloxacin not cipro - same issue?"],
     "68M on prednisone 10mg for PMR, needs abx. levofloxacin ok?"),
    (["Is it safe to stop clonidine suddenly?", "no sorry I meant metoprolol"],
     "Is it safe to stop metoprolol suddenly?"),
])
def test_corrections_replace_the_entity_named(turns: list[str], standalone: str) -> None:
    assert _last(turns) == standalone


@pytest.mark.parametrize(("turns", "standalone"), [
    # a follow-up that names nothing takes the focus entity
    (["Is it safe to stop clonidine suddenly?", "next step?"], "next step with clonidine?"),
    # "this yr" is a determiner, not a pronoun for the focus
    (["Is it safe to stop clonidine suddenly?", "she's had 2 falls this yr, is that a reason?"],
     "she's had 2 falls this yr, is clonidine a reason?"),
    # a definite description keeps its adjective
    (["Is it safe to stop clonidine suddenly?", "how fast does BP rise after the last dose?"],
     "how fast does BP rise after the last clonidine dose?"),
    # "and with X?" replaces the drug after the same preposition
    (["What is the maximum simvastatin dose with amlodipine?", "And with diltiazem?"],
     "What is the maximum simvastatin dose with diltiazem?"),
])
def test_focus_rules(turns: list[str], standalone: str) -> None:
    assert _last(turns) == standalone


@pytest.mark.parametrize(("turns", "standalone"), [
    # switching "to" a new drug: from the focus drug
    (["long-term alprazolam 2 mg/day, how fast can I taper?",
      "worth switching her to diazepam first?"],
     "worth switching her from alprazolam to diazepam first?"),
    # a figure of the previous question corrected
    (["T2DM + CKD, eGFR 50, on metformin 1g bid. any dose change?", "sorry, eGFR is 35 not 50"],
     "T2DM + CKD, eGFR 35, on metformin 1g bid. any dose change?"),
    # a new patient with the same diagnosis keeps the subject
    (["starting levothyroxine for new primary hypothyroidism, healthy 35yo. dose?",
      "different pt - 78yo w/ CAD, same dx. starting dose?"],
     "78yo w/ CAD, same dx. starting dose with levothyroxine and hypothyroidism?"),
    # back to an earlier patient: that patient's subject, first or by what was said of them
    (["Is it safe to stop clonidine suddenly?",
      "new patient: 80yo on warfarin. ok with amiodarone?",
      "ok back to the first pt - how fast should the taper go?"],
     "ok back to the first pt - how fast should the clonidine taper go?"),
    (["pt on methotrexate, can I give bactrim?", "new pt: is it safe to stop clonidine suddenly?",
      "next pt: 80yo on warfarin. ok with amiodarone?",
      "back to the bactrim pt - what monitoring?"],
     "back to the bactrim pt - what monitoring with methotrexate and bactrim?"),
    # a comparison: against the drug of the same kind, else with the focus
    (["Is lisinopril causing her cough?", "would ramipril be better?"],
     "would ramipril be better than lisinopril?"),
    (["Is lisinopril causing her cough?", "would ramipril be better?", "no sorry I meant losartan"],
     "would losartan be better than lisinopril?"),
    (["Is lisinopril causing her cough?", "would enalapril be better?", "no I meant losartan"],
     "would losartan be better with lisinopril?"),  # no kind known: the turn's entity replaced
    (["pt on methotrexate, can I give bactrim?", "would amoxicillin be safer?"],
     "would amoxicillin be safer with methotrexate and bactrim?"),
    # a drug being added, and a correction without "I meant"
    (["on simvastatin 80 for 6 yrs. ok to keep him on it?", "cards is adding diltiazem"],
     "cards is adding diltiazem with simvastatin?"),
    (["on simvastatin 80 for 6 yrs. ok to keep him on it?", "cards is adding diltiazem",
      "sorry, amlodipine, not diltiazem"], "cards is adding amlodipine with simvastatin?"),
    # a new patient asked about "it": the drug, not the condition
    (["pt with myasthenia gravis, acute sinusitis. cipro ok?",
      "different pt, no MG, uncomplicated cystitis - still avoid it?"],
     "no MG, uncomplicated cystitis - still avoid cipro?"),
    # "them": the two drugs; "they check": the clinicians; "it" beside the main drug: the other
    (["he's on omeprazole 40, keep clopidogrel?", "can I just give them 12h apart?"],
     "can I just give omeprazole and clopidogrel 12h apart?"),
    (["I take levothyroxine 100 mcg and I'm pregnant", "how often will they check my blood?"],
     "how often will they check my blood with levothyroxine?"),
    (["is rifampin a problem with clonidine?", "when she finishes it, what about her clonidine?"],
     "when she finishes rifampin, what about her clonidine?"),
    # a MedQuAD-style follow-up: "treatments" is not an entity, "of it" takes the name once
    (["What is (are) clonidine withdrawal syndrome ?", "What are the treatments?"],
     "What are the treatments in clonidine withdrawal syndrome?"),
    (["What is (are) clonidine withdrawal syndrome ?", "What are the symptoms of it?"],
     "What are the symptoms of clonidine withdrawal syndrome?"),
    # "what about X?" names a thing even when no article does; "X dosing" asks of its own
    (["can cyproheptadine be given IV? he's NPO", "what about dantrolene?"],
     "can dantrolene be given IV? he's NPO?"),
    (["Is it safe to stop clonidine suddenly?", "clonidine dosing"], "clonidine dosing?"),
    # another drug of the same patient, without a pronoun
    (["what dose of citalopram is safe for her age?", "she also wants ibuprofen for her arthritis"],
     "she also wants ibuprofen for her arthritis with citalopram?"),
])
def test_patient_and_comparison_rules(turns: list[str], standalone: str) -> None:
    assert _last(turns) == standalone


def test_a_return_without_an_earlier_patient_is_left_alone() -> None:
    turns = ["Is it safe to stop clonidine suddenly?", "back to the 78yo - any dose change?"]
    assert "78yo" in (_last(turns) or "") and "clonidine" in (_last(turns) or "")


@pytest.mark.parametrize(("said", "question", "standalone"), [
    # a gap: the turn the articles did not cover does not become the focus
    (["Is it safe to stop clonidine suddenly?", "what dose of naltrexone should I start?"],
     "how long should the taper be?", "how long should the clonidine taper be?"),
    # ... but the focus entity it named comes first: the next "it" is metoprolol
    (["I've been on metoprolol for 6 years. can I just stop taking it?",
      "what about my clonidine pills, same deal?", "can I drink beer while on metoprolol?"],
     "does stopping it suddenly matter?", "does stopping metoprolol suddenly matter?"),
])
def test_a_refused_turn_leaves_the_state(said: list[str], question: str, standalone: str
                                         ) -> None:
    history = []
    for i, text in enumerate(said):
        answered = i < len(said) - 1
        history += [Turn("user", text),
                    Turn("assistant", "Taper it." if answered else "REFUSED",
                         ("clonidine-beta-blocker-rebound",) if answered else ())]
    got = resolve(question, history, VOCAB.is_entity, refused=lambda t: t.content == "REFUSED")
    assert got is not None and got.standalone == standalone


def test_an_ambiguous_it_asks_which_then_takes_the_answer() -> None:
    turns = ["Should clonidine or metoprolol be stopped first?", "How long should it take?"]
    history = [Turn("user", turns[0])]
    got = resolve(turns[1], history, VOCAB.is_entity)
    assert got is not None and got.candidates == ("clonidine", "metoprolol")
    history += [Turn("user", turns[1]), Turn("assistant", "Do you mean clonidine or metoprolol?")]
    got = resolve("metoprolol", history, VOCAB.is_entity)
    assert got is not None and got.standalone == "How long should metoprolol take?"
    assert not got.candidates


@pytest.mark.parametrize(("detail", "standalone"), [
    ("correction, his eGFR is actually 28, not 35",
     "pt on naproxen for gout, eGFR 28. ok to continue?"),
    ("sorry, I misread the chart, he's 54 not 64", None),  # 64 is not in the question
    ("her CrCl is 25 by cockcroft-gault",
     "Her CrCl is 25 by cockcroft-gault. pt on naproxen for gout, eGFR 35. ok to continue?"),
])
def test_a_turn_that_only_tells_a_figure_re_asks_the_question_with_it(
        detail: str, standalone: str | None) -> None:
    got = _last(["pt on naproxen for gout, eGFR 35. ok to continue?", detail])
    if standalone is None:
        assert got is None or "naproxen" in got
    else:
        assert got == standalone


def test_its_x_not_y_names_the_drug_it_is_no_pronoun() -> None:
    got = _last(["pt on esomeprazole and clopidogrel, ok?",
                 "sorry, it's omeprazole not esomeprazole. same?"])
    assert got is not None and "it's omeprazole" in got


@pytest.mark.parametrize(("turns", "standalone"), [
    # a kind of drug for the one drug of that kind named earlier (everyday kind, lexicon class)
    (["pt on warfarin, INR 2.4, adding aspirin?", "unrelated: lithium level 1.8, what now?",
      "going back to the anticoagulant, derm started fluconazole"],
     "going back to warfarin, derm started fluconazole?"),
    (["ramipril cough?", "is the ACE inhibitor to blame?"], "is ramipril to blame?"),
    # not the kind as such, nor a thing of that kind, nor when a drug of that kind is named
    (["pt on prednisone 10 daily", "does the steroid cream matter?"],
     "does the steroid cream matter?"),
    (["ramipril cough?", "lisinopril or the ACE inhibitor class?"],
     "lisinopril or the ACE inhibitor class?"),
])
def test_a_kind_of_drug_names_the_drug_of_that_kind(turns: list[str], standalone: str) -> None:
    assert _last(turns) == standalone
