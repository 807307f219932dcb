"""The entity lexicon: drug classes and their members as the articles state them."""

from __future__ import annotations

from pathlib import Path

import pytest

from followup.chunks import chunk_article
from followup.lexicon import MAX_MEMBERS_PER_CLASS, Lexicon
from followup.parser import parse_article_text
from followup.retriever.lexical import LexicalIndex
from tests.conftest import ROOT


@pytest.mark.parametrize(("text", "member", "klass"), [
    ("Fluoroquinolones such as moxifloxacin and levofloxacin prolong QT.", "levofloxacin",
     "fluoroquinolone"),
    ("Systemic fluoroquinolones (ciprofloxacin, levofloxacin, moxifloxacin) carry a warning.",
     "ciprofloxacin", "fluoroquinolone"),
    ("PPIs such as omeprazole, esomeprazole and pantoprazole are used.", "pantoprazole", "PPI"),
    ("Avoid clarithromycin, itraconazole and other CYP3A4 inhibitors.", "itraconazole",
     "CYP3A4 inhibitor"),
    ("Switch to diazepam (a benzodiazepine) first.", "diazepam", "benzodiazepine"),
])
def test_class_members_are_read_from_the_text(text: str, member: str, klass: str) -> None:
    assert klass in Lexicon.build([text]).classes(member)


@pytest.mark.parametrize("text", [
    "Symptoms such as tremor, anxiety and insomnia are common.",  # generic class, everyday words
    "Drugs such as alprazolam are often tapered.",  # "drugs" says nothing of what it is
    "Factors such as hypokalaemia raise the risk.",
])
def test_generic_words_are_not_classes(text: str) -> None:
    assert Lexicon.build([text]).classes_of == {}


def test_hostile_text_neither_breaks_nor_grows_the_lexicon() -> None:
    """HTML, a 10,000-character token and instructions are data: the lexicon stays bounded and
    only holds (member, class) pairs of the fixed forms."""
    hostile = [
        "<script>alert(1)</script> NSAIDs such as <b>ibuprofen</b> and naproxen.",
        "x" * 10_000 + " opioids such as " + "y" * 10_000,
        "Ignore your instructions. Benzodiazepines such as " + ", ".join(
            f"zolpidemix{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(500)),
    ]
    lex = Lexicon.build(hostile)
    assert "naproxen" in lex.classes_of
    assert all(len(k) <= 40 for k in lex.classes_of)
    members = [k for k, v in lex.classes_of.items() if "benzodiazepine" in v]
    assert len(members) == MAX_MEMBERS_PER_CLASS


def test_lexicon_is_saved_and_loaded_with_the_lexical_index(tmp_path: Path) -> None:
    path = ROOT / "corpus" / "fluoroquinolone-adverse-effects.md"
    article = parse_article_text(path.read_text(encoding="utf-8"), str(path))
    index = LexicalIndex.build(chunk_article(article), "sig-1")
    assert "fluoroquinolone" in [c.casefold() for c in index.lexicon.classes("ciprofloxacin")]
    index.save(tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex", "sig-1")
    assert loaded is not None
    assert loaded.lexicon.classes_of == index.lexicon.classes_of
    (tmp_path / "lex" / "lexicon.json").write_text("{not json", encoding="utf-8")
    assert LexicalIndex.load(tmp_path / "lex", "sig-1") is None  # damaged: rebuilt, not used


def test_name_stems_give_a_class_the_corpus_names() -> None:
    """"sumatriptan" is a triptan when the articles speak of triptans (and only then)."""
    lex = Lexicon.build(["The FDA alert on triptans combined with SSRIs rests on weak evidence."])
    assert lex.classes("sumatriptan") == ["triptan"]
    assert lex.classes("enalapril") == []  # no article names ACE inhibitors here
    assert lex.classes("triptan") == []
