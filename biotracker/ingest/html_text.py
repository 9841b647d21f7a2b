"""Plain text from source HTML, safely: tags dropped, scripts and styles removed, entities decoded.

Uses the standard library's tolerant ``html.parser`` (no network, no entity expansion beyond HTML's
named character references), so hostile markup in a feed cannot reach the digest as markup.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from biotracker.errors import RecordError

_BLOCK = {"p", "div", "br", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section"}
_DROP = {"script", "style", "noscript", "iframe", "object", "template"}


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            self._dropping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP and self._dropping:
            self._dropping -= 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self.parts.append(data)


def html_to_text(markup: Any) -> str:
    """Readable text of ``markup``: paragraphs kept as blank-line breaks, whitespace collapsed.

    Anything but text (a number, list or object where the feed should have text) is a
    ``RecordError``: the item is quarantined with that reason instead of guessing what was meant.
    """
    if markup is None or markup == "":
        return ""
    if not isinstance(markup, str):
        raise RecordError(f"expected text, got a {type(markup).__name__} ({str(markup)[:40]!r})")
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    text = "".join(collector.parts).replace("\r", "")
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
