"""Parse evidence articles written as Markdown or in the seed's plain-text format into Articles.

Both formats become the same list of blocks (heading, bullet, paragraph, each with its offset in
the source), and one assembler turns blocks into an Article: title, metadata lines, the direct
answer, sections, references and the disclaimer. Page chrome is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import yaml

from followup.articles import Article, Section, Sentence, content_hash
from followup.errors import ArticleError
from followup.sentences import split_sentences

BlockKind = Literal["heading", "bullet", "paragraph"]


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str  # exactly source_text[start:start + len(text)]
    start: int
    level: int = 0  # heading level (1 = title)
    guessed: bool = False  # a plain-text line taken for a heading by its looks


# Page chrome of the seed's web page; a match drops the line.
_CHROME = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^Medical Advisory Board",
        r"^Educational purpose only",
        r"^Article Review Status$",
        r"^(Submitted|Under Review|Approved)$",
        r"^Personalize$",
        r"^Help us tailor your experience$",
        r"^Which best describes you\?",
        r"^View editorial policy$",
        r"^Share( this article)?$",
        r"^Print$",
    )
]
# Everything from this line on is chrome.
_TAIL_CHROME = re.compile(r"^(Have a follow-up question\?|Our Medical A\.?I\.?)", re.IGNORECASE)
_UPDATED = re.compile(r"^(?:Last updated|Updated)\s*:\s*(?P<date>.+?)(?:View editorial policy)?$",
                      re.IGNORECASE)
_STATUS = re.compile(r"^Review status\s*:\s*(?P<status>.+)$", re.IGNORECASE)
_SOURCE = re.compile(r"^(?:Source|URL)\s*:\s*(?P<url>\S+)$", re.IGNORECASE)
_ID_LINE = re.compile(r"^Id\s*:\s*(?P<id>\S+)$", re.IGNORECASE)
_META_LINE = re.compile(r"^(Last updated|Updated|Review status|Source|URL|Id)\s*:", re.IGNORECASE)
_PENDING = re.compile(r"pending (?:human )?review", re.IGNORECASE)
_REFERENCES = re.compile(r"^(References|Sources|Bibliography)$", re.IGNORECASE)
_DISCLAIMER = re.compile(r"disclaimer", re.IGNORECASE)
_BULLET = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>[-*+•·▪●]|\d{1,3}[.)])[ \t]+")
_NUMBERED_REF = re.compile(r"^\s*(?:\[(?P<a>\d{1,3})\]|(?P<b>\d{1,3})[.)])\s+(?P<text>\S.*)$")
_REF_CATEGORY = re.compile(
    r"^(Guideline|Research|Review|Systematic review|Meta-analysis|FDA label|Drug label|"
    r"Label|Textbook|Book|Consensus statement|Trial)$",
    re.IGNORECASE,
)
_ID_OK = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%Y-%m-%d", "%d %B %Y", "%B %Y", "%Y")


def normalise_id(raw: str, path: str) -> str:
    """Lower-case article id of letters, digits, ``.``, ``_`` and ``-``."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", raw.strip().lower()).strip("-._")
    if not slug or not _ID_OK.match(slug):
        raise ArticleError(path, f"article id {raw!r} is not usable; use letters, digits, '-'")
    return slug


def parse_date(raw: str) -> str | None:
    """ISO date (or year) from 'November 2, 2025', '2025-11-02', ...; None when unreadable."""
    text = raw.strip().rstrip(".")
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if fmt == "%Y":
            return f"{parsed.year:04d}"
        if fmt == "%B %Y":
            return f"{parsed.year:04d}-{parsed.month:02d}"
        return parsed.date().isoformat()
    return None


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


# ---------------------------------------------------------------------------- block readers


def _markdown_blocks(text: str, body_start: int) -> list[Block]:
    blocks: list[Block] = []
    para_start: int | None = None
    para_end = 0
    pos = body_start
    in_bullet: int | None = None  # index of the bullet block being continued

    def close_para() -> None:
        nonlocal para_start
        if para_start is not None:
            blocks.append(Block("paragraph", text[para_start:para_end], para_start))
            para_start = None

    for line in text[body_start:].splitlines(keepends=True):
        line_start = pos
        pos += len(line)
        stripped = line.rstrip("\r\n")
        content = stripped.strip()
        if not content:
            close_para()
            in_bullet = None
            continue
        lead = len(stripped) - len(stripped.lstrip())
        heading = re.match(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$", stripped)
        if heading and lead == 0:
            close_para()
            in_bullet = None
            title = heading.group(2)
            offset = line_start + stripped.index(title) if title else line_start
            blocks.append(Block("heading", title, offset, level=len(heading.group(1))))
            continue
        bullet = _BULLET.match(stripped)
        if bullet:
            close_para()
            body = stripped[bullet.end():].rstrip()
            blocks.append(Block("bullet", body, line_start + bullet.end()))
            in_bullet = len(blocks) - 1
            continue
        if in_bullet is not None and lead > 0:
            # continuation line of a bullet: extend the bullet's text to this line's end
            prev = blocks[in_bullet]
            end = line_start + len(stripped.rstrip())
            blocks[in_bullet] = Block("bullet", text[prev.start:end], prev.start)
            continue
        in_bullet = None
        if _META_LINE.match(content):
            # "Last updated:" / "Review status:" lines stand alone even without a blank line
            close_para()
            blocks.append(Block("paragraph", content, line_start + lead))
            continue
        if para_start is None:
            para_start = line_start + lead
        para_end = line_start + len(stripped.rstrip())
    close_para()
    return blocks


def _looks_like_plain_heading(line: str) -> bool:
    if len(line) > 100 or len(line.split()) > 12 or not line[:1].isupper():
        return False
    return not (line.endswith((".", ",", ";", ":")) or re.search(r"\d\s*$", line))


def _plain_blocks(text: str) -> list[Block]:
    """Blocks of the seed's web-page text: one block per non-empty line."""
    blocks: list[Block] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        line_start = pos
        pos += len(line)
        stripped = line.rstrip("\r\n")
        content = stripped.strip()
        if not content:
            continue
        lead = len(stripped) - len(stripped.lstrip())
        bullet = _BULLET.match(stripped)
        if bullet and not re.match(r"^\s*\d", stripped):
            blocks.append(Block("bullet", stripped[bullet.end():].rstrip(),
                                line_start + bullet.end()))
            continue
        start = line_start + lead
        kind: BlockKind = "heading" if _looks_like_plain_heading(content) else "paragraph"
        is_heading = kind == "heading"
        blocks.append(Block(kind, content, start, level=2 if is_heading else 0, guessed=is_heading))
    if blocks and blocks[0].kind != "heading":
        first = blocks[0]
        blocks[0] = Block("heading", first.text, first.start, level=1)
    elif blocks:
        blocks[0] = Block("heading", blocks[0].text, blocks[0].start, level=1)
    return blocks


# ---------------------------------------------------------------------------- references


def _parse_references(blocks: list[Block]) -> tuple[dict[int, str], list[str]]:
    """Numbered entries {n: text} and unnumbered entries, from the reference section's blocks."""
    numbered: dict[int, str] = {}
    loose: list[str] = []
    current: list[str] = []
    category: str | None = None

    def close() -> None:
        nonlocal current
        if current:
            entry = " ".join(part.rstrip() for part in current)
            loose.append(f"{entry} ({category})" if category else entry)
        current = []

    for b in blocks:
        line = re.sub(r"^[-*+•·▪●]\s+", "", b.text.strip())
        m = _NUMBERED_REF.match(line)
        if m:
            close()
            n = int(m.group("a") or m.group("b"))
            numbered[n] = m.group("text").strip()
            continue
        if _REF_CATEGORY.match(line):
            close()
            category = line
            continue
        if b.kind == "bullet" or not current or category is None:
            close()
        current.append(line if line.endswith((".", "?", "!")) else line + ".")
        if category is None:
            close()
    close()
    return numbered, [e.rstrip(".") + "." if not e.endswith(")") else e for e in loose]


def _attach_references(
    numbered: dict[int, str],
    loose: list[str],
    cited: set[int],
    sections: list[Section],
) -> tuple[dict[int, str | None], list[str], list[str]]:
    """Map citation numbers to reference texts only when certain.

    Returns (references, unattached entries, warnings).
    """
    warnings: list[str] = []
    refs: dict[int, str | None] = {n: None for n in sorted(cited)}
    if numbered:
        for n, t in numbered.items():
            refs[n] = t
        missing = sorted(n for n in cited if n not in numbered)
        if missing:
            warnings.append(f"cites {missing} but the reference list has no such numbers")
        if not cited:
            warnings.append("has a reference list but no sentence cites it")
        elif unused := sorted(n for n in numbered if n not in cited):
            warnings.append(f"lists references {unused} that no sentence cites")
        return dict(sorted(refs.items())), list(loose), warnings
    if not loose:
        if cited:
            warnings.append(
                f"cites {sorted(cited)} but has no reference list; citations keep their numbers"
            )
        return refs, [], warnings
    if cited and sorted(cited) == list(range(1, len(loose) + 1)):
        for n, t in zip(sorted(cited), loose, strict=True):
            refs[n] = t
        return refs, [], warnings
    # Unmistakable match: the entry's title (>= 3 words) stands in a sentence citing one number.
    unattached: list[str] = []
    taken: set[int] = set()
    for entry in loose:
        title = _key(re.split(r"(?<=[.?!])\s", entry, maxsplit=1)[0])
        hits = set()
        if len(title.split()) >= 3:
            for sec in sections:
                for sent in sec.sentences:
                    if len(sent.citations) == 1 and f" {title} " in f" {_key(sent.text)} ":
                        hits.add(sent.citations[0])
        if len(hits) == 1 and (n := hits.pop()) not in taken:
            refs[n] = entry
            taken.add(n)
        else:
            unattached.append(entry)
    if cited:
        warnings.append(
            f"cites {len(cited)} numbers but lists {len(loose)} unnumbered references; "
            f"{len(unattached)} entries could not be matched to a number with certainty"
        )
    else:
        warnings.append("has a reference list but no sentence cites it")
    return refs, unattached, warnings


# ---------------------------------------------------------------------------- assembly


def _front_matter(text: str, path: str) -> tuple[dict[str, object], int]:
    if not text.startswith("---\n"):
        return {}, 0
    end = text.find("\n---", 4)
    if end < 0:
        raise ArticleError(path, "front matter starts with '---' but never ends; close it")
    try:
        data = yaml.safe_load(text[4:end]) or {}
    except yaml.YAMLError as exc:
        raise ArticleError(path, f"front matter is not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ArticleError(path, "front matter must be a mapping of key: value lines")
    after = text.find("\n", end + 4)
    return {str(k): v for k, v in data.items()}, (after + 1 if after >= 0 else len(text))


def parse_article_text(text: str, path: str, *, fmt: str = "auto") -> Article:
    """Parse one article's text.

    Args:
        text: the decoded file content (newlines normalised to ``\\n``).
        path: where it came from; the file stem is the id unless the article declares one.
        fmt: ``markdown``, ``plain`` (the seed's web-page text) or ``auto``.

    Raises:
        ArticleError: no title, no content, or malformed front matter.
    """
    if not text.strip():
        raise ArticleError(path, "file is empty; write an article or remove the file")
    meta, body_start = _front_matter(text, path)
    if fmt == "auto":
        fmt = "markdown" if re.search(r"(?m)^#{1,6}[ \t]+\S", text) else "plain"
    blocks = _markdown_blocks(text, body_start) if fmt == "markdown" else _plain_blocks(text)
    return _assemble(blocks, text, path, meta, fmt)


def _assemble(
    blocks: list[Block], text: str, path: str, meta: dict[str, object], fmt: str
) -> Article:
    title_block = next((b for b in blocks if b.kind == "heading" and b.level == 1), None)
    if title_block is None or not title_block.text.strip():
        hint = "a first line '# Question?'" if fmt == "markdown" else "a title on the first line"
        raise ArticleError(path, f"no title; start the article with {hint}")
    title = title_block.text.strip()
    updated = parse_date(str(meta["updated"])) if meta.get("updated") else None
    status = str(meta["review_status"]) if meta.get("review_status") else None
    url = str(meta["url"]) if meta.get("url") else None
    declared_id = str(meta["id"]) if meta.get("id") else None

    sections: list[Section] = []
    heading: str | None = None
    kind: Literal["answer", "section"] = "answer"
    sentences: list[Sentence] = []
    ref_blocks: list[Block] = []
    disclaimer: list[str] = []
    state = "pre"  # pre -> body -> refs / disclaimer
    seen_content = False

    def close_section() -> None:
        nonlocal sentences
        if sentences:
            name = heading or ("Answer" if kind == "answer" else "Overview")
            sections.append(Section(name, kind, tuple(sentences)))
        sentences = []

    for b in blocks:
        if b is title_block:
            continue
        line = b.text.strip()
        if _TAIL_CHROME.match(line):
            break
        if any(p.match(line) for p in _CHROME):
            if _PENDING.search(line) and status is None:
                status = "Pending human review"
            continue
        if state in ("pre", "body") and b.kind != "bullet":
            if m := _UPDATED.match(line):
                updated = updated or parse_date(m.group("date")) or m.group("date").strip()
                continue
            if m := _STATUS.match(line):
                status = status or m.group("status").strip()
                continue
            if m := _SOURCE.match(line):
                url = url or m.group("url")
                continue
            if not seen_content and (m := _ID_LINE.match(line)):
                declared_id = declared_id or m.group("id")
                continue
        if b.kind == "heading":
            if _key(line) == _key(title):
                continue
            if _REFERENCES.match(line):
                close_section()
                state = "refs"
                continue
            if _DISCLAIMER.search(line):
                close_section()
                state = "disclaimer"
                continue
            if state in ("refs", "disclaimer") and b.guessed:
                # a short line inside the reference list ("Research", a title) is not a heading
                (ref_blocks.append(b) if state == "refs" else disclaimer.append(line))
                continue
            close_section()
            heading, kind, state = line, "section", "body"
            continue
        if state == "refs":
            ref_blocks.append(b)
            continue
        if state == "disclaimer":
            disclaimer.append(line)
            continue
        seen_content = True
        if state == "pre":
            kind = "answer"
            heading = "Answer"
        sentences.extend(split_sentences(b.text, b.start))
    close_section()

    if not sections:
        raise ArticleError(path, "no content: the article has a title but no answer or sections")
    cited = {n for s in sections for sent in s.sentences for n in sent.citations}
    ref_lines = [
        Block(b.kind, text[_line_start(text, b.start): b.start + len(b.text)].strip(), b.start)
        for b in ref_blocks
    ]
    numbered, loose = _parse_references(ref_lines)
    references, unattached, warnings = _attach_references(numbered, loose, cited, sections)
    article_id = normalise_id(declared_id or Path(path).stem, path)
    return Article(
        id=article_id,
        title=title,
        source_path=path,
        source_text=text,
        sections=tuple(sections),
        references=references,
        url=url,
        updated=updated,
        review_status=status,
        disclaimer=" ".join(disclaimer) or None,
        source_format=fmt,
        unattached_references=tuple(unattached),
        warnings=tuple(warnings),
        content_hash=content_hash("article", fmt, text),
    )


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1
