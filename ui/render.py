"""HTML for the chat: answers, cited passages and article lists, escaped and bidi-safe.

Everything that came from an article or a person goes through ``html.escape``: it is shown, never run.
Direction is left to the browser per paragraph (``dir="auto"`` + ``unicode-bidi: plaintext``), never forced
right-to-left (Gradio's ``rtl=True`` garbles mixed lines), and Latin runs inside Arabic text (file names,
numbers, English names) are wrapped in bidi isolates so their punctuation stays with them.
The HTML is one line with no blank lines, so Gradio's Markdown pass leaves it as one HTML block.
"""

import re
from html import escape

from assistant.records import MARKER, Answer, Citation
from index.normalise import is_arabic

LRI, FSI, PDI = "\u2066", "\u2068", "\u2069"  # left-to-right / first-strong isolate ... pop isolate
ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
# A Latin run: starts and ends with a Latin letter or digit; may hold spaces and punctuation inside.
LATIN = r"A-Za-z0-9\u00c0-\u024f"
LATIN_RUN = re.compile(rf"[{LATIN}](?:[{LATIN} ._\-/:@()+,'#%&=?]*[{LATIN})])?")
NOT_FOUND_LABEL = "Not found in the articles"
CSS = """
.dalil-text, .dalil-answer p, .dalil-passage, .dalil-user { unicode-bidi: plaintext; text-align: start; }
.dalil-meta { text-align: start; }
.dalil-answer.abstained { border-inline-start: 4px solid #d97706; padding-inline-start: .6em; }
.dalil-badge { display: inline-block; background: #fef3c7; color: #92400e; border-radius: 4px;
  padding: 0 .4em; font-size: .85em; font-weight: 600; }
.dalil-passages { margin: .5em 0 0 0; padding: 0; list-style: none; }
.dalil-passage { border-top: 1px solid #e5e7eb; padding: .4em 0; scroll-margin-top: 4em; }
.dalil-passage.flash { background: #e0f2fe; transition: background .3s; }
.dalil-num { font-weight: 700; }
.dalil-meta { font-size: .85em; color: #6b7280; }
.dalil-passage mark { background: #fde68a; color: inherit; padding: 0 .1em; }
a.dalil-marker { text-decoration: none; font-weight: 600; cursor: pointer; }
.dalil-notice { font-size: .85em; color: #92400e; background: #fffbeb; padding: .1em .4em; border-radius: 4px; }
#dalil-question textarea { unicode-bidi: plaintext; text-align: start; }
.dalil-articles td, .dalil-articles th { unicode-bidi: plaintext; text-align: start; padding: .2em .6em; }
"""
# Clicking a marker scrolls its passage into view (delegated: messages are added after page load).
JS_HEAD = """<script>
document.addEventListener('click', function (event) {
  var link = event.target.closest && event.target.closest('a.dalil-marker');
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  var target = document.getElementById((link.getAttribute('href') || '').slice(1));
  if (!target) return;
  target = target.closest('.dalil-passage') || target;  // a second number's anchor sits inside its passage
  target.scrollIntoView({behavior: 'smooth', block: 'center'});
  target.classList.add('flash');
  setTimeout(function () { target.classList.remove('flash'); }, 1500);
}, true);
</script>"""


def isolate(text: str) -> str:
    """``text`` with each Latin run wrapped in bidi isolates when the text holds Arabic (else unchanged)."""
    if not ARABIC.search(text):
        return text
    return LATIN_RUN.sub(_isolated, text)


def _isolated(match: re.Match) -> str:
    """A Latin run in isolates, its brackets balanced inside them: in "دانيال (Daniel Okoro) إن" the run
    "Daniel Okoro)" took the closing bracket away from its opening one, and the pair showed as "((Daniel Okoro".
    A bracket left unpaired stays outside, with the Arabic text, whose direction the browser pairs it by."""
    run = match.group(0)
    core = run
    while core.count(")") > core.count("("):
        core = core[:core.rfind(")")].rstrip()
    if core.count("(") > core.count(")"):
        core = core[:core.find("(")].rstrip()
    return f"{LRI}{core}{PDI}{run[len(core):]}" if core else run


def text(value: str) -> str:
    """Plain text made safe and bidi-correct for HTML: isolated, escaped, newlines as ``<br>``."""
    return escape(isolate(value)).replace("\r", "").replace("\n", "<br>")


def field(value: str) -> str:
    """A name, date or other short value shown inside a line that may be Arabic: isolated whatever it holds."""
    return escape(f"{FSI}{value}{PDI}")


def question_html(question: str) -> str:
    """A person's question, shown as text."""
    return f'<div class="dalil-user" dir="auto">{text(question)}</div>'


def answer_html(answer: Answer, key: str) -> str:
    """The answer with clickable ``[n]`` markers, then its numbered passages. ``key`` makes ids unique."""
    cited = {c.n for c in answer.citations}
    pieces = MARKER.split(answer.answer)  # text, marker number, text, marker number, ..., text
    body = "".join(_marker(int(piece), key, cited) if i % 2 else text(piece) for i, piece in enumerate(pieces))
    badge = f'<span class="dalil-badge">{NOT_FOUND_LABEL}</span> ' if answer.abstained else ""
    kind = "dalil-answer abstained" if answer.abstained else "dalil-answer"
    passages = "".join(passage_html(group, key) for group in _by_passage(answer.citations))
    return (f'<div class="{kind}">{_llm_lines(answer)}'
            f'<p dir="auto" class="dalil-text">{badge}{body}</p>'
            f'<ol class="dalil-passages">{passages}</ol></div>')


def streaming_html(partial: str, rewritten: str | None = None) -> str:
    """An answer being written: the text so far (markers not yet linked), and the question as searched."""
    searched = _searched(rewritten) if rewritten else ""
    return (f'<div class="dalil-answer streaming">{searched}'
            f'<p dir="auto" class="dalil-text">{text(partial)}<span class="dalil-cursor">▍</span></p></div>')


def _llm_lines(answer: Answer) -> str:
    """Above a generated answer: the follow-up as searched, and the notice when the LLM's answer was not used."""
    lines = _searched(answer.rewritten_question) if answer.rewritten_question else ""
    if answer.notice:
        lines += f'<div class="dalil-notice" dir="auto">{text(answer.notice)}</div>'
    return lines


def _searched(question: str) -> str:
    return f'<div class="dalil-meta dalil-searched" dir="auto">Searched for: {text(question)}</div>'


def passage_html(citations: Citation | list[Citation], key: str) -> str:
    """One passage: its numbers, title, file (date, source, link), each cited sentence highlighted.

    Two sentences of one answer often come from the same passage; it is shown once, with both sentences
    highlighted and each followed by its number, and both markers lead to it.
    """
    group = [citations] if isinstance(citations, Citation) else sorted(citations, key=lambda c: c.start)
    first = group[0]
    body, cut = [], 0
    for c in group:
        if c.start < cut:  # the same sentence cited twice: highlight it once
            continue
        body.append(f'{text(first.text[cut:c.start])}<mark>{text(first.text[c.start:c.end])}</mark>'
                    f'<sup class="dalil-num">[{c.n}]</sup>')
        cut = c.end
    body.append(text(first.text[cut:]))
    numbers = sorted(c.n for c in group)
    extra_anchors = "".join(f'<span id="{_anchor(key, n)}"></span>' for n in numbers[1:])
    labels = " ".join(f"[{n}]" for n in numbers)
    return (f'<li class="dalil-passage" id="{_anchor(key, numbers[0])}">{extra_anchors}'
            f'<div class="dalil-meta" dir="{_direction(first.text)}"><span class="dalil-num">{labels}</span> '
            f'{_meta(first)}</div><div class="dalil-text" dir="auto">{"".join(body)}</div></li>')


def _by_passage(citations: list[Citation]) -> list[list[Citation]]:
    """Citations grouped by the passage they quote, in order of their first number."""
    groups: dict[tuple[str, str, str], list[Citation]] = {}
    for c in sorted(citations, key=lambda c: c.n):
        groups.setdefault((c.article_id, c.source, c.text), []).append(c)
    return list(groups.values())


def error_html(message: str) -> str:
    """A message saying why a question could not be answered."""
    return f'<div class="dalil-error" dir="auto"><strong>Dalil:</strong> {text(message)}</div>'


def articles_html(rows: list[dict]) -> str:
    """The indexed articles as a table: title, file, passages, when added."""
    if not rows:
        return "<p>No articles are indexed.</p>"
    head = "<tr><th>Title</th><th>File</th><th>Passages</th><th>Added</th></tr>"
    body = "".join(
        f'<tr><td dir="auto">{text(r["title"])}</td><td dir="auto">{field(r["source"])}'
        f'{" (uploaded)" if r.get("uploaded") else ""}</td>'
        f'<td>{r["passages"]}</td><td>{escape(r["added_at"])}</td></tr>' for r in rows)
    return f'<table class="dalil-articles"><thead>{head}</thead><tbody>{body}</tbody></table>'


def _marker(n: int, key: str, cited: set[int]) -> str:
    if n not in cited:  # a marker that points at nothing stays plain text (and tests catch it upstream)
        return f"[{n}]"
    return f'<a class="dalil-marker" href="#{_anchor(key, n)}">[{n}]</a>'


def _meta(citation: Citation) -> str:
    parts = [f"<strong>{field(citation.title)}</strong>", f"<code>{field(citation.source)}</code>"]
    meta = citation.metadata or {}
    for name in ("date", "source"):
        if meta.get(name):
            parts.append(field(str(meta[name])))
    url = str(meta.get("url") or "")
    if url.startswith(("http://", "https://")):  # never a javascript: or data: link
        parts.append(f'<a href="{escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">link</a>')
    return " · ".join(parts)


def _direction(passage: str) -> str:
    """The direction of a passage's header line: its passage's. Left to the browser ("auto"), a header whose
    title and file name sit in isolates has no strong letter outside them, and an Arabic passage's "[1]"
    went to the left."""
    return "rtl" if is_arabic(passage) else "ltr"


def _anchor(key: str, n: int) -> str:
    return f"dalil-{re.sub(r'[^A-Za-z0-9_-]', '', key)}-{n}"
