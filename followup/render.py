"""HTML and Markdown of a conversation, for the web chat (no Gradio here: plain strings).

Everything that comes from an article or a user is escaped, including the characters a
template engine could read (`` ` ``, ``$``, ``{``); citation markers are links that open the
cited passage with the cited sentence highlighted.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from followup.text import normalise_space, quote_text

_EXTRA = str.maketrans({"`": "&#96;", "$": "&#36;", "{": "&#123;", "}": "&#125;"})


def esc(text: object) -> str:
    """Escape for HTML text and attribute values, template characters included."""
    return html.escape(str(text), quote=True).translate(_EXTRA)


def _marker(turn: int, n: int) -> str:
    return (f'<a class="cite" href="#src-{turn}-{n}" data-target="src-{turn}-{n}" '
            f'title="Show the passage">[{n}]</a>')


def _body(a: dict[str, Any], turn: int) -> str:
    paras: list[list[str]] = []
    last: tuple[str, str] | None = None
    for s in a["sentences"]:
        group = (s.get("article_id", ""), s.get("section", ""))
        if group != last:
            paras.append([])
            last = group
        text = quote_text(s["text"])
        if text[-1:] not in ".!?:":
            text += "."
        marks = "".join(_marker(turn, n) for n in s["citations"])
        paras[-1].append(f'<span class="sentence">{esc(text)}</span> {marks}')
    return "".join(f"<p>{' '.join(p)}</p>" for p in paras)


def _passage_html(a: dict[str, Any], n: int) -> str:
    """The passages that sentences citing [n] came from, cited sentences highlighted."""
    chunks = {p["chunk_id"]: p for p in a["passages"]}
    cited_by_chunk: dict[str, set[str]] = {}
    for s in a["sentences"]:
        if n in s["citations"] and s.get("chunk_id") in chunks:
            cited_by_chunk.setdefault(s["chunk_id"], set()).add(normalise_space(s["text"]))
    parts = []
    for chunk_id, cited in cited_by_chunk.items():
        p = chunks[chunk_id]
        lines = []
        for line in p["text"].split("\n"):
            t = esc(normalise_space(line))
            lines.append(f"<mark>{t}</mark>" if normalise_space(line) in cited else t)
        parts.append(
            f'<div class="passage"><div class="passage-where">{esc(p.get("article_title", ""))}'
            f' — {esc(p["section"])}</div><div class="passage-text">{"<br>".join(lines)}</div>'
            "</div>")
    return "".join(parts) or '<div class="passage">(passage not available)</div>'


def _reference(a: dict[str, Any], r: dict[str, Any], turn: int) -> str:
    n = r["n"]
    own = ""
    if r.get("ref_text"):
        own = (f' <span class="ref-text">— reference {esc(r["ref_number"])}: '
               f'{esc(r["ref_text"])}</span>')
    elif r.get("ref_number") is not None:
        own = (f' <span class="ref-text">— the article\'s reference {esc(r["ref_number"])} '
               "(not listed in the article)</span>")
    meta = " · ".join(esc(x) for x in (
        f"updated {r['updated']}" if r.get("updated") else "",
        f"review status: {r['review_status']}" if r.get("review_status") else "") if x)
    return (f'<li><details id="src-{turn}-{n}"><summary><b>[{n}]</b> '
            f'{esc(r["article_title"])}{own} <span class="ref-meta">{meta}</span></summary>'
            f"{_passage_html(a, n)}</details></li>")


def render_answer(a: dict[str, Any], turn: int) -> str:
    """One answer: body (or refusal), interpretation, references, notices, disclaimer."""
    out = []
    out.append(f'<div class="interpreted">Interpreted as: {esc(a["standalone_question"])}</div>')
    if a["abstained"]:
        closest = "".join(f"<li>{esc(c['title'])}</li>" for c in a.get("closest_articles", []))
        out.append(f'<div class="refusal"><b>Not covered by the articles.</b> '
                   f'{esc(a.get("refusal") or _refusal_of(a))}'
                   + (f'<div class="closest">Closest articles:<ul>{closest}</ul></div>'
                      if closest else "") + "</div>")
    else:
        out.append(f'<div class="answer-body">{_body(a, turn)}</div>')
        if a.get("patient_note"):
            out.append(f'<p class="patient-note">{esc(a["patient_note"])}</p>')
        refs = "".join(_reference(a, r, turn) for r in a["references"])
        out.append(f'<div class="references"><div class="ref-title">References</div>'
                   f"<ol>{refs}</ol></div>")
    for notice in a.get("notices", []):
        out.append(f'<div class="notice">Note: {esc(notice)}</div>')
    out.append(f'<div class="disclaimer">{esc(a["disclaimer"])}</div>')
    return "".join(out)


def _refusal_of(a: dict[str, Any]) -> str:
    text: str = a["answer"].split("\n\n", 1)[0]
    return text


def render_conversation(turns: Sequence[dict[str, Any]], pending: dict[str, str] | None = None,
                        empty_hint: str = "") -> str:
    """The whole conversation as HTML (``pending``: a question being answered, streaming)."""
    out = ['<div class="conversation">']
    if not turns and pending is None:
        out.append(f'<div class="empty">{esc(empty_hint)}</div>')
    for i, t in enumerate(turns):
        out.append(f'<div class="turn"><div class="question">{esc(t["question"])}</div>')
        if t.get("error"):
            out.append(f'<div class="error">{esc(t["error"])}</div>')
        elif t.get("answer"):
            out.append(f'<div class="answer">{render_answer(t["answer"], i)}</div>')
        out.append("</div>")
    if pending is not None:
        out.append(f'<div class="turn"><div class="question">{esc(pending["question"])}</div>'
                   f'<div class="answer streaming">{esc(pending.get("partial", ""))}'
                   '<span class="cursor">▍</span></div></div>')
    out.append("</div>")
    return "".join(out)


def conversation_markdown(turns: Sequence[dict[str, Any]]) -> str:
    """The conversation as Markdown with each answer's references and disclaimer."""
    out = ["# Conversation", ""]
    for t in turns:
        out += [f"## Q: {t['question']}", ""]
        if t.get("error"):
            out += [f"Error: {t['error']}", ""]
            continue
        a = t["answer"]
        out += [f"*Interpreted as: {a['standalone_question']}*", ""]
        out += [a["answer"], ""]
    return "\n".join(out)


CSS = """
.conversation { font-size: 15px; line-height: 1.5; }
.empty { color: #666; padding: 1em 0; }
.turn { margin: 0 0 1.5em 0; }
.question { background: #eef3fb; border-radius: 8px; padding: .6em .9em; margin-bottom: .5em;
  font-weight: 600; white-space: pre-wrap; }
.answer { padding: .2em .9em; border-left: 3px solid #4a78c2; }
.interpreted { color: #555; font-size: 13px; font-style: italic; margin-bottom: .4em; }
a.cite { text-decoration: none; font-size: 12px; vertical-align: super; margin-left: 1px;
  color: #1d4ed8; cursor: pointer; }
.references { margin-top: .6em; font-size: 13px; }
.references ol { list-style: none; padding-left: 0; margin: .2em 0; }
.ref-title { font-weight: 600; }
.ref-meta { color: #666; }
.passage { background: #fafafa; border: 1px solid #ddd; border-radius: 6px; padding: .5em;
  margin: .3em 0 .6em 1.2em; }
.passage-where { font-weight: 600; margin-bottom: .3em; }
.passage mark { background: #fff3a3; }
details.flash > summary { background: #fff3a3; }
.refusal { background: #fff4e5; border: 1px solid #f0b45b; border-radius: 6px; padding: .6em; }
.patient-note { font-style: italic; }
.notice { color: #8a5a00; font-size: 13px; margin-top: .4em; }
.error { background: #fde8e8; border: 1px solid #e99; border-radius: 6px; padding: .6em; }
.disclaimer { color: #555; font-size: 12px; font-style: italic; margin-top: .6em;
  border-top: 1px solid #eee; padding-top: .4em; }
.streaming { color: #333; white-space: pre-wrap; }
"""

CLICK_JS = """
element.addEventListener('click', (event) => {
  const link = event.target.closest('a.cite');
  if (!link) return;
  event.preventDefault();
  const target = element.querySelector('#' + link.dataset.target);
  if (!target) return;
  target.open = true;
  target.classList.add('flash');
  target.scrollIntoView({block: 'nearest'});
  setTimeout(() => target.classList.remove('flash'), 1500);
});
"""
