"""Turn sources into Articles: our article files and three public datasets.

``read_sources`` walks the given paths, picks a reader per file (``--format auto`` sniffs), and
yields an Article or an ArticleError for every file or record; one bad file never stops the rest.

* article  - Markdown or the seed's plain text (``followup.parser``), one file one article.
* medquad  - MedQuAD XML, one page one article (``medquad-<N>-<stem>``), each QA pair a section,
  the page URL its reference.
* pubmedqa - PubMedQA JSON, one abstract one article (``pubmedqa-<PMID>``); QUESTION and
  LONG_ANSWER are evaluation data and never become article text.
* covidqa  - COVID-QA SQuAD JSON, one paper one article (``covidqa-<document_id>``); the
  questions stay out.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from followup.articles import Article, Section, Sentence, content_hash
from followup.errors import ArticleError, NothingToIngest, UsageError
from followup.parser import normalise_id, parse_article_text
from followup.sentences import split_sentences
from followup.settings import Settings

FORMATS = ("auto", "article", "medquad", "pubmedqa", "covidqa")
ARTICLE_SUFFIXES = {".md", ".markdown", ".txt"}
# Documentation beside the articles, not articles.
_SKIP_NAMES = re.compile(r"^(readme|license|licence|copying|changelog|notice)(\.|$)", re.I)


@dataclass
class SourceScan:
    """What a walk over the inputs saw: files read and every file or record's outcome."""

    files: set[str] = field(default_factory=set)
    results: list[Article | ArticleError] = field(default_factory=list)


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """The files under ``paths`` (directories walked, hidden and documentation files skipped).

    Raises:
        UsageError: a path does not exist.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
        if path.is_file():
            found.append(path)
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            for name in sorted(files):
                if name.startswith(".") or _SKIP_NAMES.match(name):
                    continue
                found.append(Path(root) / name)
    return found


def read_sources(paths: Iterable[str | Path], settings: Settings, fmt: str = "auto") -> SourceScan:
    """Read every file under ``paths`` into Articles (or errors naming the file and reason)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    scan = SourceScan()
    for path in discover(paths):
        scan.files.add(str(path))
        try:
            scan.results.extend(_read_file(path, settings, fmt))
        except ArticleError as exc:
            scan.results.append(exc)
    return scan


def _read_file(path: Path, settings: Settings, fmt: str) -> Iterator[Article | ArticleError]:
    kind = fmt if fmt != "auto" else _sniff(path)
    limit = settings.max_dataset_bytes if kind in ("pubmedqa", "covidqa") else (
        settings.max_article_bytes
    )
    size = path.stat().st_size
    if size > limit:
        raise ArticleError(
            str(path),
            f"file is {size / 1e6:.1f} MB, over the {limit / 1e6:.1f} MB limit; split it or raise "
            "FOLLOWUP_MAX_ARTICLE_BYTES",
        )
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ArticleError(str(path), "binary file, not text; remove it from the corpus folder")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArticleError(
            str(path),
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save it "
            "as UTF-8",
        ) from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if kind == "article":
        # .md is Markdown; .txt may be the seed's web-page text or Markdown (sniffed)
        text_format = "markdown" if path.suffix.lower() in (".md", ".markdown") else "auto"
        yield parse_article_text(text, str(path), fmt=text_format)
    elif kind == "medquad":
        yield parse_medquad(text, path)
    elif kind == "pubmedqa":
        yield from parse_pubmedqa(_load_json(text, path), path)
    elif kind == "covidqa":
        yield from parse_covidqa(_load_json(text, path), path)
    else:
        raise ArticleError(
            str(path),
            f"unknown format ({path.suffix or 'no extension'}); supported: .md/.txt articles, "
            "MedQuAD .xml, PubMedQA or COVID-QA .json (or pass --format)",
        )


def _sniff(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in ARTICLE_SUFFIXES:
        return "article"
    if suffix == ".xml":
        return "medquad"
    if suffix == ".json":
        with path.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace")
        if '"QUESTION"' in head or '"CONTEXTS"' in head:
            return "pubmedqa"
        if '"paragraphs"' in head or '"data"' in head:
            return "covidqa"
        return "unknown-json"
    return "unknown"


def _load_json(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArticleError(str(path), f"invalid JSON at line {exc.lineno}: {exc.msg}") from exc


class _TextBuilder:
    """Builds an imported article's source text and its sentences' spans together."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str) -> int:
        start = self.size
        self.parts.append(text)
        self.size += len(text)
        return start

    def sentences(self, text: str) -> tuple[Sentence, ...]:
        """Append ``text`` (line by line) and return its sentences, each citing reference 1."""
        out: list[Sentence] = []
        base = self.add(text)
        pos = 0
        for line in text.split("\n"):
            stripped = re.sub(r"^\s*(?:[-*•]\s+)?", "", line)
            lead = len(line) - len(stripped)
            for s in split_sentences(stripped, base + pos + lead, citations=False):
                out.append(Sentence(s.text, (1,), s.start, s.end))
            pos += len(line) + 1
        self.add("\n\n")
        return tuple(out)

    @property
    def text(self) -> str:
        return "".join(self.parts)


# ---------------------------------------------------------------------------- MedQuAD


def covidqa_answer_span(context: str, start: int, text: str) -> tuple[int, int]:
    """The gold answer's span in a COVID-QA context. 138 of the 867 ``answer_start`` values are
    off by a few characters (mostly white space); the answer text found nearest to the given
    start is used then."""
    if context[start: start + len(text)] == text:
        return start, start + len(text)
    found = [m.start() for m in re.finditer(re.escape(text), context)]
    if not found:
        return start, start + len(text)
    best = min(found, key=lambda i: abs(i - start))
    return best, best + len(text)


def medquad_id(path: Path) -> str:
    """``medquad-<N>-<stem>``: N is the collection folder's leading number (ids repeat across)."""
    m = re.match(r"^(\d+)_", path.parent.name)
    return f"medquad-{m.group(1)}-{path.stem}" if m else f"medquad-{path.stem}"


def parse_medquad(text: str, path: Path) -> Article:
    """One MedQuAD XML page: each answered QA pair becomes a section."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ArticleError(str(path), f"invalid XML ({exc})") from exc
    # Most pages are <Document>/<Focus>/<QAPair> (one CDC page <DiseaseFile>); a few NINDS pages
    # use the older <doc>/<doctitle-focus>/<pair> schema.
    if root.tag in ("Document", "DiseaseFile"):
        tags = ("Focus", "QAPair", "Question", "Answer")
    elif root.tag == "doc":
        tags = ("doctitle-focus", "pair", "question", "answer")
    else:
        raise ArticleError(str(path), f"not a MedQuAD page (root <{root.tag}>, want <Document>)")
    focus = (root.findtext(tags[0]) or "").strip()
    url = root.get("url")
    source = root.get("source") or root.get("corpus") or "MedQuAD"
    b = _TextBuilder()
    b.add(focus + "\n\n")
    sections: list[Section] = []
    for pair in root.iter(tags[1]):
        question = " ".join((pair.findtext(tags[2]) or "").split())
        answer = (pair.findtext(tags[3]) or "").strip()
        if not question or not answer:
            continue
        b.add(question + "\n")
        sentences = b.sentences(answer)
        if sentences:
            sections.append(Section(question, "section", sentences))
    if not sections:
        raise NothingToIngest(str(path), "MedQuAD page has no answered question; skipped")
    title = focus or sections[0].heading
    ref = f"{title}. {source}" + (f", {url}" if url else "")
    return Article(
        id=normalise_id(medquad_id(path), str(path)),
        title=title,
        source_path=str(path),
        source_text=b.text,
        sections=tuple(sections),
        references={1: ref},
        url=url,
        source_format="medquad",
        extra={"collection": path.parent.name, "source": source},
        content_hash=content_hash("medquad", text),
    )


# ---------------------------------------------------------------------------- PubMedQA


def parse_pubmedqa(data: Any, path: Path) -> Iterator[Article | ArticleError]:
    """PubMedQA ``{PMID: {CONTEXTS, LABELS, MESHES, YEAR, ...}}``: the abstract only."""
    if not isinstance(data, dict):
        raise ArticleError(str(path), "PubMedQA JSON must be an object {PMID: record}")
    for pmid, rec in data.items():
        where = f"{path}#{pmid}"
        try:
            yield _pubmedqa_article(str(pmid), rec, path, where)
        except ArticleError as exc:
            yield exc


def _pubmedqa_article(pmid: str, rec: Any, path: Path, where: str) -> Article:
    if not isinstance(rec, dict) or not isinstance(rec.get("CONTEXTS"), list):
        raise ArticleError(where, "record has no CONTEXTS list")
    contexts = [str(c) for c in rec["CONTEXTS"]]
    labels = [str(x) for x in rec.get("LABELS") or []]
    meshes = [str(m) for m in rec.get("MESHES") or []]
    year = str(rec.get("YEAR") or "").strip() or None
    title = f"PubMed {pmid}" + (f" ({year})" if year else "")
    if meshes:
        title += ": " + "; ".join(meshes[:4])
    b = _TextBuilder()
    b.add(title + "\n\n")
    sections: list[Section] = []
    for i, ctx in enumerate(contexts):
        label = labels[i].strip().title() if i < len(labels) and labels[i].strip() else "Abstract"
        b.add(label + "\n")
        sentences = b.sentences(ctx.strip())
        if sentences:
            sections.append(Section(label, "section", sentences))
    if not sections:
        raise ArticleError(where, "abstract has no text")
    url = f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
    payload = json.dumps({"c": contexts, "l": labels, "m": meshes, "y": year}, sort_keys=True)
    return Article(
        id=normalise_id(f"pubmedqa-{pmid}", where),
        title=title,
        source_path=str(path),
        source_text=b.text,
        sections=tuple(sections),
        references={1: f"PubMed record PMID {pmid}" + (f", {year}" if year else "") + f". {url}"},
        url=url,
        updated=year,
        source_format="pubmedqa",
        extra={"pmid": pmid, "mesh": "; ".join(meshes)},
        content_hash=content_hash("pubmedqa", pmid, payload),
    )


# ---------------------------------------------------------------------------- COVID-QA

_HEADER = re.compile(r"^(SHA|Authors|Date|DOI|License|Journal)\s*:\s*(?P<v>.*)$")
_PREFIX = re.compile(r"^(Abstract|Text)\s*:\s*")


def parse_covidqa(data: Any, path: Path) -> Iterator[Article | ArticleError]:
    """COVID-QA (SQuAD format): each paragraph's context is one paper; questions stay out."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ArticleError(str(path), "COVID-QA JSON must be SQuAD-style {\"data\": [...]}")
    for i, doc in enumerate(data["data"]):
        for j, para in enumerate(doc.get("paragraphs") or []):
            doc_id = para.get("document_id", f"{i}-{j}")
            where = f"{path}#{doc_id}"
            try:
                yield covidqa_article(str(doc_id), str(para.get("context") or ""), path)
            except ArticleError as exc:
                yield ArticleError(where, exc.reason)


def covidqa_article(doc_id: str, context: str, path: Path) -> Article:
    """One COVID-QA paper; spans index into the dataset's own context string."""
    lines = context.split("\n")
    title = next((ln.strip() for ln in lines if ln.strip()), "")
    if not title:
        raise ArticleError(f"{path}#{doc_id}", "paper has no text")
    url = next((ln.strip() for ln in lines if ln.strip().startswith("http")), None)
    meta: dict[str, str] = {}
    # Lines before "Abstract:"/"Text:" (or before the first long paragraph) are the header.
    body_from = next((i for i, ln in enumerate(lines) if _PREFIX.match(ln.strip())), None)
    if body_from is None:
        body_from = next((i for i, ln in enumerate(lines) if len(ln) >= 200), 0)
    sections: list[Section] = []
    heading = "Text"
    current: list[Sentence] = []
    pos = 0
    first = True
    for index, line in enumerate(lines):
        start = pos
        pos += len(line) + 1
        stripped = line.strip()
        if first and stripped:
            first = False
            continue  # the title line
        if not stripped or stripped == url:
            continue
        if m := _HEADER.match(stripped):
            meta[m.group(1).lower()] = m.group("v")
            continue
        if index < body_from:
            meta.setdefault("authors" if "authors" not in meta else f"header{index}", stripped)
            continue
        lead = len(line) - len(line.lstrip())
        if m := _PREFIX.match(stripped):
            if current:
                sections.append(Section(heading, "section", tuple(current)))
                current = []
            heading = m.group(1)
            lead += m.end()
            stripped = stripped[m.end():]
        elif len(stripped) < 80 and not re.search(r"[.:;,]$", stripped) and stripped[:1].isupper():
            if current:
                sections.append(Section(heading, "section", tuple(current)))
                current = []
            heading = stripped
            continue
        for s in split_sentences(stripped, start + lead, citations=False):
            current.append(Sentence(s.text, (1,), s.start, s.end))
    if current:
        sections.append(Section(heading, "section", tuple(current)))
    if not sections:
        raise ArticleError(f"{path}#{doc_id}", "paper has no body text")
    date = meta.get("date")
    ref = title + (f". {meta['authors'][:200]}" if meta.get("authors") else "")
    ref += (f", {date[:4]}" if date else "") + (f". {url}" if url else "")
    return Article(
        id=normalise_id(f"covidqa-{doc_id}", str(path)),
        title=title,
        source_path=str(path),
        source_text=context,
        sections=tuple(sections),
        references={1: ref},
        url=url,
        updated=date,
        source_format="covidqa",
        extra={"document_id": doc_id},
        content_hash=content_hash("covidqa", doc_id, context),
    )
