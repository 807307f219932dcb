"""Chunk invariants, property-based: no citation lost, every sentence verbatim at its span,
chunks never cross sections, the direct answer is its own chunk, no disclaimer chunks, and
consecutive chunks of a section overlap only by whole sentences carried from the previous one."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from followup.chunks import chunk_article
from followup.parser import parse_article_text
from followup.sentences import _NUMERIC_CONTEXT
from tests.conftest import CORPUS, SEED

word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=12).filter(
    lambda w: w not in _NUMERIC_CONTEXT  # "dose 7", "n 1": quantities, by design
)
cites = st.lists(st.integers(1, 9), max_size=3, unique=True)
bullet = st.tuples(st.lists(word, min_size=1, max_size=40), cites)
section = st.tuples(st.lists(word, min_size=1, max_size=4), st.lists(bullet, min_size=1,
                                                                      max_size=12))


def _render(answer: list[str], sections: list) -> tuple[str, list]:  # type: ignore[type-arg]
    lines = ["# Generated question?", "", " ".join(answer).capitalize() + " 1", ""]
    expected = []
    for i, (heading_words, bullets) in enumerate(sections):
        heading = f"{' '.join(heading_words).title()} {i}"  # unique headings
        lines += [f"## {heading}", ""]
        for words, c in bullets:
            text = " ".join(words).capitalize()
            lines.append(f"- {text} {', '.join(map(str, c))}".rstrip())
            expected.append((heading, text, tuple(c)))
        lines.append("")
    lines += ["## References", ""] + [f"{n}. Ref {n}. J, 2020." for n in range(1, 10)]
    lines += ["", "## Professional Medical Disclaimer", "", "Not a chunk."]
    return "\n".join(lines), expected


@settings(max_examples=80, deadline=None)
@given(st.lists(word, min_size=1, max_size=30), st.lists(section, min_size=1, max_size=4),
       st.integers(200, 1200), st.integers(0, 300))
def test_chunk_invariants(answer: list[str], sections: list, max_chars: int,  # type: ignore[type-arg]
                          overlap: int) -> None:
    text, expected = _render(answer, sections)
    article = parse_article_text(text, "gen.md")
    chunks = chunk_article(article, max_chars, overlap)
    assert chunks[0].kind == "answer" and chunks[0].section == "Answer"
    assert all(c.kind == "section" for c in chunks[1:])
    got = []
    seen: set[tuple[str, int]] = set()
    for c in chunks:
        for s in c.sentences:
            assert text[s.start:s.end] == s.text  # verbatim at its span
            assert c.section in {h for h, _, _ in expected} | {"Answer"}
            if (c.section, s.start) not in seen:  # a carried-over sentence counts once
                seen.add((c.section, s.start))
                got.append((c.section, s.text, s.citations))
        if len(c.sentences) > 1:
            assert len(c.text) <= max_chars
        assert set(c.references) == set(c.citations)
        assert "Not a chunk" not in c.text
    # overlap: a chunk starts with (at most ``overlap`` characters of) the previous chunk's
    # last sentences, then only new ones; without overlap, chunks share nothing
    for prev, cur in itertools.pairwise(chunks):
        if prev.section != cur.section:
            continue
        shared = [s for s in cur.sentences if s in prev.sentences]
        assert tuple(shared) == cur.sentences[:len(shared)] == prev.sentences[
            len(prev.sentences) - len(shared):]
        assert len(shared) < len(cur.sentences)
        assert not shared or len("\n".join(s.text for s in shared)) <= min(overlap,
                                                                            max_chars // 2)
    body = [g for g in got if g[0] != "Answer"]
    # no sentence and no citation lost, in order, each in its own section
    assert body == expected
    # chunks never cross sections: each section's chunks are contiguous
    order = [c.section for c in chunks]
    assert all(order.index(s) + order.count(s) - 1 == len(order) - 1 - order[::-1].index(s)
               for s in set(order))


def test_real_articles_chunk_cleanly() -> None:
    for path in [SEED, *sorted(CORPUS.glob("*.md"))]:
        if path.name == "README.md":
            continue
        article = parse_article_text(path.read_text(encoding="utf-8"), str(path))
        chunks = chunk_article(article)
        sent_total = sum(len(s.sentences) for s in article.sections)
        assert len({(c.section, s.start) for c in chunks for s in c.sentences}) == sent_total
        all_cited = {n for c in chunks for n in c.citations}
        assert all_cited == article.cited_numbers()
        ids = [c.id for c in chunks]
        assert len(set(ids)) == len(ids)
        for c in chunks:
            assert c.article_id == article.id and c.title == article.title
            assert c.references == {n: article.references.get(n) for n in c.citations}
