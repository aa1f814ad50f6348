"""Read a form out of a rendered page and post it back as a browser would (what it shows is what it sends)."""

from html.parser import HTMLParser
from typing import Any


class _FormReader(HTMLParser):
    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action = action
        self.inside = False
        self.found = False
        self.pairs: list[tuple[str, str]] = []
        self._select: str | None = None
        self._multiple = False
        self._first: str | None = None  # a single select with nothing selected sends its first option
        self._chosen = False
        self._option: tuple[str, bool] | None = None
        self._option_text = ""
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("action") == self.action:
            self.inside = self.found = True
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "file"):
                self.pairs.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self._select, self._multiple, self._first, self._chosen = a.get("name"), "multiple" in a, None, False
        elif tag == "option" and self._select:
            self._option = (a.get("value", ""), "selected" in a)
            self._option_text = ""
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data
        if self._option is not None:
            self._option_text += data

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "option" and self._option and self._select:
            value, selected = self._option
            if self._first is None:
                self._first = value
            if selected:
                self.pairs.append((self._select, value))
                self._chosen = True
            self._option = None
        elif tag == "select":
            if self._select and not self._multiple and not self._chosen and self._first is not None:
                self.pairs.append((self._select, self._first))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.pairs.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None
        elif tag == "form":
            self.inside = False


def form_fields(html: str, action: str) -> dict[str, Any]:
    """The fields of the form posting to `action`, as the browser would send them (repeated names as lists)."""
    reader = _FormReader(action)
    reader.feed(html)
    assert reader.found, f"no form posting to {action}"
    data: dict[str, Any] = {}
    for name, value in reader.pairs:
        if name in data:
            data[name] = [*data[name], value] if isinstance(data[name], list) else [data[name], value]
        else:
            data[name] = value
    return data
