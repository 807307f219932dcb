"""Sentence splitting that keeps each sentence with the citation numbers that trail it.

Citation numbers close a bullet or a sentence: ``1``, ``2, 3``, ``[4]``, ``[2,3]``; sometimes
after the full stop (``... medications. 1``), sometimes before it (``... reactions 2, 3.``).
Numbers that belong to the text (``8-12 Hz``, ``10-14 days``, ``a score above 10``) are not
citations. The rules, in order of confidence:

* bracketed numbers at the end of a sentence are citations;
* numbers after the sentence's own full stop are citations;
* bare trailing numbers are citations only when the word before them is a word (not a number, a
  range dash, a unit or a comparison like ``above``/``to``/``type``), and every number is a
  plausible reference number (1-199, no repeats).
"""

from __future__ import annotations

import re

from followup.articles import Sentence

_NUM = r"[1-9]\d{0,2}"
_LIST = rf"{_NUM}(?:\s*,\s*{_NUM})*"
_BRACKET = rf"\[\s*{_NUM}(?:\s*[,;–-]\s*{_NUM})*\s*\]"

# "text. 1" / "text.) 2, 3" : citations after the sentence's own punctuation.
_AFTER_PUNCT = re.compile(rf"[.!?][\"'”’)\]]*(?P<cites>\s+(?:{_LIST}|{_BRACKET}))$")
# "text 2, 3." / "text 2, 3" / "text [4]." / "text[4]"
_BARE_TAIL = re.compile(rf"(?P<pre>\S)(?P<cites>\s+{_LIST})(?P<punct>[.!?]?)$")
_BRACKET_TAIL = re.compile(rf"(?P<cites>\s*{_BRACKET})(?P<punct>[.!?]?)$")
_PLAIN_END = re.compile(r"[.!?][\"'”’)\]]*$")

# Words after which a trailing number is a quantity, not a citation.
_NUMERIC_CONTEXT = frozenset(
    # Singular nouns only: "day 7" is a quantity, but "within 7-14 days 1" cites 1.
    """above below over under than of to at by from between and or approximately about around
    roughly nearly almost least most score scored dose grade stage level type step phase day
    week month year hour minute version age aged n no number per within after before exceeds
    exceeding exceed greater less times class category schedule table figure fig chapter page
    item point count value is was are were be equals equal reached reach only just factor gen
    generation lead top x""".split()
)
# ... unless the noun itself is quantified: "every day 2", "within a month 2", "first year 4".
_QUANTIFIERS = frozenset(
    "a an the every each per this that same one first last next previous following daily".split()
)

_ABBREVIATIONS = frozenset(
    "e.g i.e dr mr mrs ms prof vs approx fig figs no al ca cf st jr sr inc ref refs vol".split()
)

# A sentence boundary may only be followed by something that can start a sentence.
# Not before a run of citation numbers that itself closes the sentence ("medications. 1 Next").
_NEXT_START = re.compile(
    rf"\s+(?!(?:{_LIST}|{_BRACKET})[.!?]?(?:\s*$|\s+[A-Z\"“(]))(?=[A-Z0-9\"'“‘(\[•*-])"
)


def _numbers(cites: str) -> tuple[int, ...]:
    """The numbers of a citation string, ranges in brackets expanded ([2-4] -> 2, 3, 4)."""
    inner = cites.strip().strip("[]")
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", inner):
        if not part:
            continue
        m = re.fullmatch(r"(\d+)\s*[–-]\s*(\d+)", part)
        if m and inner != cites.strip():  # a range only inside brackets
            lo, hi = int(m.group(1)), int(m.group(2))
            if 0 < lo <= hi and hi - lo <= 20:
                out.extend(range(lo, hi + 1))
            continue
        out.append(int(part))
    return tuple(out)


def _plausible(numbers: tuple[int, ...]) -> bool:
    return bool(numbers) and all(0 < n < 200 for n in numbers) and len(set(numbers)) == len(
        numbers
    )


def _previous_words(text: str) -> tuple[str, str]:
    words = re.findall(r"[A-Za-z][A-Za-z0-9-]*", text[-80:])
    last = words[-1].lower() if words else ""
    before = words[-2].lower() if len(words) > 1 else ""
    return before, last


def _bare_tail_ok(head: str, pre_char: str, count: int) -> bool:
    """Whether the text before bare trailing numbers allows reading them as citations."""
    if pre_char.isdigit() or pre_char in "-–—/:=<>≥≤±×%+~^,;(":
        return False
    if not (pre_char.isalpha() or pre_char in ")\"'”’]."):
        return False
    if count > 1 or pre_char in ")]\"'”’":
        # "dose 1, 2": a list of numbers is a citation list; "(HR 1.66, CI 1.1 to 2.4) 6":
        # a number after a closed parenthesis or quote is not part of it
        return True
    before, last = _previous_words(head)
    return last not in _NUMERIC_CONTEXT or before in _QUANTIFIERS


def split_trailing_citations(
    text: str, *, final: bool
) -> tuple[str, tuple[int, ...]] | None:
    """Split ``text`` into (sentence, citations) when it ends a sentence.

    Args:
        text: the candidate sentence, already right-stripped.
        final: True when nothing follows in the block (a bullet's end); then bare numbers
            without a full stop may close it.

    Returns:
        ``(sentence_text, citations)`` where sentence_text is a prefix of ``text``; None when
        ``text`` does not end a sentence.
    """
    m = _AFTER_PUNCT.search(text)
    if m:
        nums = _numbers(m.group("cites"))
        if _plausible(nums):
            return text[: m.start("cites")], nums
    m = _BRACKET_TAIL.search(text)
    if m and (final or m.group("punct")):
        nums = _numbers(m.group("cites"))
        if _plausible(nums):
            return text[: m.start("cites")].rstrip(), nums
    m = _BARE_TAIL.search(text)
    if m and (final or m.group("punct")):
        nums = _numbers(m.group("cites"))
        head = text[: m.start("cites")]
        if _plausible(nums) and _bare_tail_ok(head, m.group("pre"), len(nums)):
            return head, nums
    if _PLAIN_END.search(text):
        word = re.search(r"(\S+)[.!?][\"'”’)\]]*$", text)
        token = word.group(1).lower().rstrip(".") if word else ""
        if token in _ABBREVIATIONS or re.fullmatch(r"[a-z]", token):
            return None if not final else (text, ())
        return text, ()
    if final:
        return text, ()
    return None


def split_sentences(block: str, offset: int = 0, *, citations: bool = True) -> list[Sentence]:
    """Split one block (a bullet or a paragraph) into sentences with their citations.

    Args:
        block: the block's text exactly as in the source.
        offset: where ``block`` starts in the source text; spans are absolute.
        citations: False for sources without citation numbers (datasets): no number is read
            as a citation.

    Returns:
        Sentences whose ``text`` equals ``source[start:end]``; empty for a blank block.
    """
    out: list[Sentence] = []
    start = 0
    n = len(block)

    def emit(seg_start: int, seg_end: int, *, final: bool) -> bool:
        raw = block[seg_start:seg_end]
        lead = len(raw) - len(raw.lstrip())
        body = raw.strip()
        if not body:
            return True
        if citations:
            split = split_trailing_citations(body, final=final)
        elif final or _PLAIN_END.search(body):
            split = (body, ())
        else:
            split = None
        if split is None:
            return False
        text, nums = split
        text = text.rstrip()
        if not text:  # a lone number line: attach nothing, keep nothing
            return True
        s = offset + seg_start + lead
        out.append(Sentence(text=text, citations=nums, start=s, end=s + len(text)))
        return True

    for m in _NEXT_START.finditer(block):
        if emit(start, m.start(), final=False):
            start = m.end()
    if start < n:
        emit(start, n, final=True)
    return out
