"""The patient's own dose or eGFR and the band a sentence states for it (table-driven)."""

from __future__ import annotations

import pytest

from followup.answering.bands import Figure, asked_figures, in_band


@pytest.mark.parametrize(("text", "figures"), [
    ("T2DM + CKD, eGFR 50, on metformin 1g bid. any dose change?", [Figure("kidney", 50)]),
    ("GCA pt on prednisone 60mg daily x 2 months", [Figure("dose", 60)]),
    ("levothyroxine 100 mcg, CrCl ~35", [Figure("dose", 100), Figure("kidney", 35)]),
    ("GFR of 48", [Figure("kidney", 48)]),
    ("3 or 4 beers most nights, for 2 weeks", []),  # no kind: not a band's figure
])
def test_the_figures_a_question_gives(text: str, figures: list[Figure]) -> None:
    assert asked_figures(text) == figures


BANDS = [
    "eGFR 45-59: keep the same dose but check eGFR more often, every 3-6 months",
    "eGFR 30-44: halve the dose (at most about 1,000 mg a day) and check eGFR every 3 months",
    "Above 40 mg of prednisone a day: reduce by 5-10 mg each week",
    "10-20 mg a day: reduce by 2.5 mg every 1-4 weeks",
    "Metformin must be stopped once the eGFR is below 30 mL/min/1.73 m²",
    "Risk arises when treatment lasts 3-4 weeks or longer",
]


@pytest.mark.parametrize(("asked", "holding"), [
    ("eGFR 50", [0]),
    ("eGFR 38", [1]),
    ("eGFR 22", [4]),
    ("prednisone 60mg", [2]),
    ("prednisone 15 mg", [3]),
    ("prednisone 7 mg", []),  # "reduce by 5-10 mg each week" is a step, not a daily dose
    ("4 weeks of prednisone", []),  # a duration is neither a dose nor a kidney figure
])
def test_the_sentences_whose_band_holds_the_figure(asked: str, holding: list[int]) -> None:
    figures = asked_figures(asked)
    assert [i for i, s in enumerate(BANDS) if in_band(s, figures)] == holding
