"""The visible text and title of an HTML page, with the standard library's parser."""

from html.parser import HTMLParser

# Content of these elements is never shown on a page (a form field's text is not the article's either).
_HIDDEN = {"script", "style", "head", "noscript", "template", "svg", "iframe", "textarea", "select"}
# Elements whose end tag may be left out: a `hidden` one cannot be told where it ends, so it is not skipped.
_OPTIONAL_END = {"p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead", "tbody", "tfoot",
                 "colgroup", "caption", "rt", "rp", "html", "body"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# These start a new line or paragraph when rendered.
_BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article",
          "header", "footer", "blockquote", "pre", "ul", "ol", "table", "figcaption"}


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.heading: list[str] = []
        self._hidden = 0
        self._in_title = False
        self._in_h1 = False
        # The open elements, and the depth of one hidden by its attributes (`hidden`, style display:none): it
        # ends with its own end tag or with any enclosing element's, as a browser closes an unclosed <span>.
        self._open: list[str] = []
        self._hidden_at: int | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in _VOID:
            if self._hidden_at is None and _hidden_by_attributes(tag, attrs):
                self._hidden_at = len(self._open)
            self._open.append(tag)
        if tag == "title":
            self._in_title = True
        elif tag in _HIDDEN:
            self._hidden += 1
        elif tag == "h1":
            self._in_h1 = True
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:  # closes it and whatever was left open inside it
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag):]
            if self._hidden_at is not None and len(self._open) <= self._hidden_at:
                self._hidden_at = None
        if tag == "title":
            self._in_title = False
        elif tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "h1":
            self._in_h1 = False
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._hidden and self._hidden_at is None:
            self.parts.append(data)
            if self._in_h1:
                self.heading.append(data)


def _hidden_by_attributes(tag: str, attrs: list) -> bool:
    """``<div hidden>``, ``style="display:none"`` or ``visibility:hidden`` (a cookie notice, a closed menu)."""
    if tag in _VOID or tag in _OPTIONAL_END:
        return False
    values = dict(attrs)
    style = "".join((values.get("style") or "").lower().split())
    return "hidden" in values or "display:none" in style or "visibility:hidden" in style


def html_title_and_text(html: str) -> tuple[str, str]:
    """Return ``(title, visible_text)``; paragraphs are separated by blank lines."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    paragraphs = [" ".join(block.split()) for block in "".join(parser.parts).split("\n\n")]
    text = "\n\n".join(p for p in paragraphs if p)
    title = " ".join("".join(parser.title).split()) or " ".join("".join(parser.heading).split())
    return title, text
