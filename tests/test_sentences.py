"""Citation numbers trail a sentence or bullet; numbers of the text are not citations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from followup.sentences import _ABBREVIATIONS, _NUMERIC_CONTEXT, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Symptoms typically resolve within 7-14 days 1", [(1,)]),
        ("Alcohol withdrawal tremor is an 8-12 Hz postural tremor 5", [(5,)]),
        ("Protracted withdrawal may persist for weeks to over 12 months and includes "
         "weakness and muscle twitches 2, 3.", [(2, 3)]),
        ("It is documented. 1", [(1,)]),
        ("First claim 2, 3. Second claim 4.", [(2, 3), (4,)]),
        ("Bracketed cites [4]", [(4,)]),
        ("Bracketed list [2,3]. Next one [5-7].", [(2, 3), (5, 6, 7)]),
        ("A CIWA-Ar score above 10", [()]),
        ("Type 2", [()]),
        ("Seen on day 7", [()]),
        ("The trial enrolled patients aged 18 to 65", [()]),
        ("Drink limit: 3 or more drinks every day 2", [(2,)]),
        ("Dose for patients weighing over 100 kg 5", [(5,)]),
        ("Use free T4 to guide the dose 1, 2", [(1, 2)]),
        ("Colon at the end:", [()]),
        ("COVID-19", [()]),
        ("Risk rose (HR 1.66, 95% CI 1.12 to 2.46) 6", [(6,)]),
    ],
)
def test_citations(text: str, expected: list[tuple[int, ...]]) -> None:
    got = [s.citations for s in split_sentences(text)]
    assert got == expected, text


def test_abbreviations_do_not_split() -> None:
    sents = split_sentences("Use e.g. Dr. Smith's taper [2]. Then stop 3")
    assert [s.citations for s in sents] == [(2,), (3,)]


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=9).filter(
    lambda w: w not in _NUMERIC_CONTEXT  # "dose 7", "n 1": quantities, by design
    and w not in _ABBREVIATIONS  # "jr.", "vs.": abbreviations do not end a sentence, by design
)


@given(
    st.lists(
        st.tuples(
            st.lists(words, min_size=2, max_size=12),
            st.lists(st.integers(1, 60), min_size=0, max_size=3, unique=True),
            st.sampled_from(["plain", "bracket", "after"]),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_generated_sentences_keep_their_citations(items: list) -> None:  # type: ignore[type-arg]
    parts = []
    for ws, cites, style in items:
        body = " ".join(ws).capitalize()
        if not cites:
            parts.append(body + ".")
        elif style == "plain":
            parts.append(f"{body} {', '.join(map(str, cites))}.")
        elif style == "bracket":
            parts.append(f"{body} [{','.join(map(str, cites))}].")
        else:
            parts.append(f"{body}. {', '.join(map(str, cites))}")
    block = " ".join(parts)
    sents = split_sentences(block, 10)
    assert [s.citations for s in sents] == [tuple(c) for _, c, _ in items]
    for s in sents:
        assert (" " * 10 + block)[s.start:s.end] == s.text
