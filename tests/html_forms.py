"""Read forms and links out of a rendered page and post them back as a browser would (what it shows is what it sends)."""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    pairs: list[tuple[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # names of file inputs (a browser sends them as parts)

    def data(self) -> dict[str, Any]:
        """Repeated names as lists, as httpx sends them."""
        out: dict[str, Any] = {}
        for name, value in self.pairs:
            if name in out:
                out[name] = [*out[name], value] if isinstance(out[name], list) else [out[name], value]
            else:
                out[name] = value
        return out


class _PageReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._multiple = False
        self._first: str | None = None  # a single select with nothing selected sends its first option
        self._chosen = False
        self._option: tuple[str, bool] | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "form":
            self._form = Form(
                action=a.get("action", ""),
                method=a.get("method", "get").lower(),
                enctype=a.get("enctype", "application/x-www-form-urlencoded"),
            )
            self.forms.append(self._form)
        form = self._form
        if form is None:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind == "file":
                form.files.append(a["name"])
            elif kind not in ("submit", "button", "image", "reset"):
                form.pairs.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self._select, self._multiple, self._first, self._chosen = a.get("name"), "multiple" in a, None, False
        elif tag == "option" and self._select:
            self._option = (a.get("value", ""), "selected" in a)
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        form = self._form
        if form is None:
            return
        if tag == "option" and self._option and self._select:
            value, selected = self._option
            if self._first is None:
                self._first = value
            if selected:
                form.pairs.append((self._select, value))
                self._chosen = True
            self._option = None
        elif tag == "select":
            if self._select and not self._multiple and not self._chosen and self._first is not None:
                form.pairs.append((self._select, self._first))
            self._select = None
        elif tag == "textarea" and self._textarea:
            form.pairs.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None
        elif tag == "form":
            self._form = None


def read_page(html: str) -> tuple[list[Form], list[str]]:
    """Every form (in page order) and every link's href."""
    reader = _PageReader()
    reader.feed(html)
    return reader.forms, reader.links


def form_fields(html: str, action: str) -> dict[str, Any]:
    """The fields of the form posting to `action`, as the browser would send them (repeated names as lists)."""
    forms, _ = read_page(html)
    for form in forms:
        if form.action == action:
            return form.data()
    raise AssertionError(f"no form posting to {action}")
