"""Citation-aware chunks: what is embedded, stored and retrieved.

A chunk holds whole sentences of one section, each with its own citation numbers, so an answer
can cite exactly what one sentence cites. Chunks never cross sections; the direct answer is its
own chunk; disclaimer and page chrome never become chunks. A long section is split on sentence
boundaries (LangChain's RecursiveCharacterTextSplitter packs one-sentence lines, 1000 characters
with up to 200 of whole sentences carried over from the previous piece, LangChain's default
sizes) and every piece carries the section heading as context. The overlap keeps a passage that
straddles two pieces whole in one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from followup.articles import Article, Section, Sentence

CHUNKER_VERSION = "2"  # 2: overlapping runs (chunk_overlap_chars)


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: whole sentences of one section, with citations per sentence."""

    id: str
    article_id: str
    article_hash: str
    title: str
    section: str
    kind: str  # "answer" or "section"
    ordinal: int
    sentences: tuple[Sentence, ...]
    references: dict[int, str | None]
    url: str | None = None
    updated: str | None = None
    review_status: str | None = None
    source_path: str = ""

    @property
    def text(self) -> str:
        """The chunk's sentences, one per line, verbatim."""
        return "\n".join(s.text for s in self.sentences)

    @property
    def start(self) -> int:
        return self.sentences[0].start

    @property
    def end(self) -> int:
        return self.sentences[-1].end

    @property
    def citations(self) -> tuple[int, ...]:
        """Every citation number of the chunk, sorted."""
        return tuple(sorted({n for s in self.sentences for n in s.citations}))

    @property
    def context(self) -> str:
        """Where the chunk sits: article title and section heading (the heading alone when it
        already names the title, as MedQuAD's questions do: fewer tokens to embed)."""
        if self.title.casefold() in self.section.casefold():
            return self.section
        return f"{self.title} — {self.section}"

    def embedding_text(self) -> str:
        """What the embedder sees: the context line, then the text."""
        return f"{self.context}\n{self.text}"


def chunk_id(article_id: str, article_hash: str, ordinal: int) -> str:
    """Deterministic id; the content hash in it keeps two versions of an article apart."""
    return f"{article_id}@{article_hash[:12]}#{ordinal:04d}"


def _pack(section: Section, max_chars: int, overlap_chars: int = 0) -> list[tuple[Sentence, ...]]:
    """Group a section's sentences into runs of at most ``max_chars`` (a long sentence alone);
    each run after the first starts with the previous run's last sentences that fit in
    ``overlap_chars``, so a passage that straddles two runs is whole in one of them."""
    lines = [s.text.replace("\n", " ") for s in section.sentences]
    joined = "\n".join(lines)
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=max_chars,
        chunk_overlap=min(overlap_chars, max_chars // 2),
        separators=["\n"],
        keep_separator=False,
        add_start_index=True,
        strip_whitespace=False,
    )
    starts: list[int] = []
    pos = 0
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    groups: list[tuple[Sentence, ...]] = []
    taken: set[int] = set()
    for doc in splitter.create_documents([joined]):
        lo = int(doc.metadata["start_index"])
        hi = lo + len(doc.page_content)
        members = [i for i, st in enumerate(starts) if lo <= st < hi]
        if members and not set(members) <= taken:  # a run adding nothing new is dropped
            groups.append(tuple(section.sentences[i] for i in members))
            taken.update(members)
    if len(taken) != len(section.sentences):  # never lose a sentence, whatever the splitter did
        raise AssertionError(f"chunking lost sentences in section {section.heading!r}")
    return groups


def chunk_article(article: Article, max_chars: int = 1000, overlap_chars: int = 200
                  ) -> list[Chunk]:
    """Split an article into citation-aware chunks (direct answer first, then sections);
    consecutive chunks of a section share up to ``overlap_chars`` of whole sentences."""
    chunks: list[Chunk] = []
    for section in article.sections:
        if not section.sentences:
            continue
        for group in _pack(section, max_chars, overlap_chars):
            cited = {n for s in group for n in s.citations}
            ordinal = len(chunks)
            chunks.append(
                Chunk(
                    id=chunk_id(article.id, article.content_hash, ordinal),
                    article_id=article.id,
                    article_hash=article.content_hash,
                    title=article.title,
                    section=section.heading,
                    kind=section.kind,
                    ordinal=ordinal,
                    sentences=group,
                    references={n: article.references.get(n) for n in sorted(cited)},
                    url=article.url,
                    updated=article.updated,
                    review_status=article.review_status,
                    source_path=article.source_path,
                )
            )
    return chunks
