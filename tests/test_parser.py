"""The article parser on the seed (every bullet), Markdown features and broken articles."""

from __future__ import annotations

import pytest

from followup.errors import ArticleError
from followup.parser import parse_article_text
from tests.conftest import SEED

# Every sentence and bullet of the seed with the citations it must carry.
SEED_EXPECTED: dict[str, list[tuple[str, tuple[int, ...]]]] = {
    "Answer": [("Yes, withdrawal from several classes", ())],
    "Benzodiazepine Withdrawal": [
        ("Benzodiazepine withdrawal is the most clearly documented", (1,)),
        ("Muscle cramps and muscle pain/stiffness are recognized", (2, 3)),
        ("Additional neuromuscular manifestations include tremor", (2, 3)),
        ("Withdrawal symptoms typically begin 1-4 days after", (4,)),
        ("More severe manifestations can include seizures", (1, 2, 3)),
        ("The FDA drug labels for both lorazepam and diazepam", (2, 3)),
        ("Protracted withdrawal syndrome may persist for weeks to over 12 months", (2, 3)),
    ],
    "Opioid Withdrawal": [
        ("Opioid withdrawal produces significant musculoskeletal symptoms", (1,)),
        ("Acute opiate withdrawal includes myalgias", (1,)),
        ("Symptoms can occur within 12 hours of discontinuation", (1,)),
        ("Tremor and muscle twitching are also documented", (1,)),
        ("The Clinical Opiate Withdrawal Scale (COWS)", (1,)),
    ],
    "Alcohol Withdrawal": [
        ("Alcohol withdrawal syndrome produces tremor", (1,)),
        ("Tremor develops within 6-24 hours after the last drink", (1,)),
        ("Alcohol withdrawal tremor is an 8-12 Hz postural tremor", (5,)),
        ("More severe forms can progress to seizures", (1, 6)),
        ("Muscle spasms and tension are recognized components", (6, 7)),
    ],
    "Baclofen Withdrawal": [
        ("Abrupt cessation of baclofen", (8,)),
        ("Baclofen withdrawal can result in hyperactive delirium", (8,)),
        ("This occurs with both intrathecal and oral baclofen", (8,)),
        ("The mechanism involves sudden loss of GABA-B receptor agonism", (8,)),
    ],
    "Clinical Management Implications": [
        ("To prevent withdrawal-induced muscle spasms", ()),
        ("For benzodiazepines: Use a gradual taper", (2, 3)),
        ("For opioids: Taper over several days", (1,)),
        ("For alcohol: Benzodiazepines are the gold standard", (1, 6)),
        ("For baclofen: Reinstate and slowly taper", (8,)),
        ("Common pitfall: Clinicians may not recognize", ()),
        ("Always obtain a detailed medication history", (1,)),
    ],
}


@pytest.fixture(scope="module")
def seed():  # type: ignore[no-untyped-def]
    return parse_article_text(SEED.read_text(encoding="utf-8"), str(SEED))


def test_seed_metadata(seed) -> None:  # type: ignore[no-untyped-def]
    assert seed.id == "000_143b970551fb233b"
    assert seed.title == "Can withdrawal cause muscle spasms?"
    assert seed.updated == "2025-11-02"
    assert seed.review_status == "Pending human review"
    assert seed.disclaimer and seed.disclaimer.startswith("This information is intended")
    assert "Dr.Oracle assumes no liability" in seed.disclaimer


def test_seed_every_sentence_and_citation(seed) -> None:  # type: ignore[no-untyped-def]
    got = {s.heading: [(x.text, x.citations) for x in s.sentences] for s in seed.sections}
    assert list(got) == list(SEED_EXPECTED)
    for heading, expected in SEED_EXPECTED.items():
        assert len(got[heading]) == len(expected), heading
        for (text, cites), (prefix, want) in zip(got[heading], expected, strict=True):
            assert text.startswith(prefix), (heading, text)
            assert cites == want, (heading, text, cites)
            assert not text.rstrip(".").endswith((" 1", " 2", " 3")), text


def test_seed_spans_are_verbatim(seed) -> None:  # type: ignore[no-untyped-def]
    for section in seed.sections:
        for s in section.sentences:
            assert seed.source_text[s.start:s.end] == s.text


def test_seed_chrome_is_dropped(seed) -> None:  # type: ignore[no-untyped-def]
    text = " ".join(x.text for s in seed.sections for x in s.sentences)
    for chrome in ("Personalize", "Help us tailor", "Which best describes you",
                   "Have a follow-up question", "Medical Advisory Board", "View editorial",
                   "Professional Medical Disclaimer", "Guideline Directed Topic Overview"):
        assert chrome not in text


def test_seed_references_only_when_certain(seed) -> None:  # type: ignore[no-untyped-def]
    # The seed cites 1-8 but lists 4 unnumbered entries: every cited number is kept, and only
    # the unmistakable match (the entry's title stands in the one sentence citing 5) is attached.
    assert sorted(seed.references) == list(range(1, 9))
    assert seed.references[5] and seed.references[5].startswith("Alcohol withdrawal tremor.")
    assert all(seed.references[n] is None for n in (1, 2, 3, 4, 6, 7, 8))
    assert len(seed.unattached_references) == 3
    assert any("could not be matched" in w for w in seed.warnings)


MD = """---
id: Custom-ID
url: https://example.org/a
---

# Does drug X interact with drug Y?

Last updated: March 3, 2025
Review status: Approved

Yes, X raises Y levels [1]. A second answer sentence 2

## Mechanism

X inhibits CYP3A4. 1

- Y exposure rises 3-fold within 5 days 1, 2
- Continuation line
  wraps here [2]

## References

1. First paper. Journal, 2020.
2. Second label. FDA, 2021.

## Professional Medical Disclaimer

For professionals.
"""


def test_markdown_article() -> None:
    a = parse_article_text(MD, "x/file-stem.md")
    assert a.id == "custom-id" and a.url == "https://example.org/a"
    assert a.updated == "2025-03-03" and a.review_status == "Approved"
    assert [s.heading for s in a.sections] == ["Answer", "Mechanism"]
    assert a.sections[0].kind == "answer"
    assert [x.citations for x in a.sections[0].sentences] == [(1,), (2,)]
    mech = a.sections[1].sentences
    assert [x.citations for x in mech] == [(1,), (1, 2), (2,)]
    assert mech[2].text == "Continuation line\n  wraps here"
    assert a.references == {1: "First paper. Journal, 2020.", 2: "Second label. FDA, 2021."}
    assert a.disclaimer == "For professionals."
    assert not a.warnings


def test_equal_counts_attach_in_order() -> None:
    text = ("# T?\n\nAnswer one 1. Answer two 2\n\n## References\n\n"
            "- Alpha. J, 2001.\n- Beta. K, 2002.\n")
    a = parse_article_text(text, "t.md")
    assert a.references == {1: "Alpha. J, 2001.", 2: "Beta. K, 2002."}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n\n", "empty"),
        ("Just a paragraph without any title line.\n", "no content"),
        ("## Only a section\n\n- bullet 1\n", "no title"),
        ("---\nid: [unclosed\n---\n# T\n\nA.\n", "front matter"),
        ("# Title only?\n", "no content"),
    ],
)
def test_broken_articles_say_why(text: str, reason: str) -> None:
    with pytest.raises(ArticleError) as info:
        parse_article_text(text, "bad.md")
    assert reason in info.value.reason and info.value.path == "bad.md"


def test_citations_without_reference_list_warns() -> None:
    a = parse_article_text("# T?\n\nClaim one 1. Claim two 2\n", "t.md")
    assert a.references == {1: None, 2: None}
    assert any("no reference list" in w for w in a.warnings)


def test_reference_list_without_citations_warns() -> None:
    a = parse_article_text("# T?\n\nA claim.\n\n## References\n\n- Alpha. J, 2001.\n", "t.md")
    assert a.references == {}
    assert any("no sentence cites it" in w for w in a.warnings)
