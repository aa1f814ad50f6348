"""The pages of every role, as people reach them: follow every same-site link from the home page of the demo world.

One page per route pattern and role (a record's page stands for every record of its kind). No page answers 5xx;
every form that posts carries the CSRF field; and every form, posted back with the values it shows by the role
that sees it, answers something other than 403 or 5xx. This is what found three forms failing for everybody.
"""

import re
from collections import deque
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from cooperation import demo, i18n
from tests.conftest import Client, http_client
from tests.html_forms import Form, read_page

ROLES = ["admin", "coordinator", "director", "partner.nlc", "partner.bnf"]
PAGES_PER_ROLE = 200
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SKIP_PREFIXES = ("/static/", "/api/v1/schema")
# Content types whose bodies are pages to read for links and forms.
_HTML = "text/html"
# A tiny PNG for file inputs: some forms take only images.
_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def pattern(url: str) -> str:
    """The route pattern a URL stands for: ids replaced, the query reduced to its keys."""
    parts = urlsplit(url)
    path = _UUID.sub("{id}", parts.path)
    path = re.sub(r"/\d{4}-\d{2}(-\d{2})?(?=/|$)", "/{date}", path)
    keys = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return path + ("?" + "&".join(keys) if keys else "")


@dataclass
class Crawl:
    role: str
    pages: dict[str, int] = field(default_factory=dict)  # URL → status
    forms: dict[tuple[str, tuple[str, ...]], tuple[str, Form]] = field(default_factory=dict)  # → (page it was on, form)
    problems: list[str] = field(default_factory=list)
    files: set[str] = field(default_factory=set)  # URLs answered with something other than a page (CSV, PDF, iCalendar)


def _same_site(href: str) -> str | None:
    if href.startswith(("#", "mailto:", "tel:", "javascript:", "webcal:")):
        return None
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        if parts.netloc not in ("testserver", ""):
            return None
    if not parts.path.startswith("/") or parts.path.startswith(_SKIP_PREFIXES):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def crawl(client: Client, role: str, start: str = "/") -> Crawl:
    result = Crawl(role)
    seen_patterns: set[str] = set()
    queue: deque[str] = deque([start])
    while queue and len(result.pages) < PAGES_PER_ROLE:
        url = queue.popleft()
        key = pattern(url)
        if key in seen_patterns:
            continue
        seen_patterns.add(key)
        response = await client.get(url)
        result.pages[url] = response.status_code
        if response.status_code >= 500:
            result.problems.append(f"{role} GET {url} → {response.status_code}")
            continue
        if not response.headers.get("content-type", "").startswith(_HTML):
            result.files.add(url)
            continue
        forms, links = read_page(response.text)
        for form in forms:
            if form.method != "post":
                continue
            if not dict(form.pairs).get("_csrf_token"):
                result.problems.append(f"{role} {url}: the form posting to {form.action} carries no CSRF token")
            names = tuple(sorted({n for n, _ in form.pairs if n != "_csrf_token"} | set(form.files)))
            result.forms.setdefault((pattern(form.action), names), (url, form))
        for href in links:
            target = _same_site(href)
            if target and pattern(target) not in seen_patterns:
                queue.append(target)
    return result


async def post_back(client: Client, role: str, page: str, form: Form) -> str | None:
    """Post the form with what it shows, as the browser would; a problem, or None."""
    data: dict[str, Any] = form.data()
    kwargs: dict[str, Any] = {}
    if form.enctype == "multipart/form-data":
        kwargs["files"] = [(name, ("crawler.png", _PNG, "image/png")) for name in form.files] or [("_", ("", b"", "text/plain"))]
    response = await client.raw.post(form.action or page, data=data, follow_redirects=False, **kwargs)
    if response.status_code == 403 or response.status_code >= 500:
        detail = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))[:300]
        return f"{role} POST {form.action} (form on {page}) → {response.status_code}: {detail}"
    return None


async def test_every_page_of_every_role_answers_and_every_form_posts(demo_app):
    crawls: dict[str, tuple[Client, Crawl]] = {}
    clients = []
    try:
        for index, role in enumerate(ROLES):
            raw = http_client(demo_app, client_address=f"192.0.2.{20 + index}")
            clients.append(raw)
            client = Client(raw)
            await client.sign_in(f"{role}@{demo.DEMO_DOMAIN}", demo.DEMO_PASSWORD)
            crawls[role] = (client, await crawl(client, role))
        problems = [p for _, c in crawls.values() for p in c.problems]
        # Every role reaches more than its home page; partners reach a shared record's page.
        for role, (_, c) in crawls.items():
            assert len(c.pages) >= 8, f"{role} reached only {sorted(c.pages)}"
        assert any("/visits/" in u for u in crawls["partner.nlc"][1].pages), "the NLC partner does not reach the shared visit"
        # Posting may change what later pages show, so the forms are posted after every role has been crawled;
        # "view as" (after which nothing can be changed) and signing out go last, and the administrator's forms (which
        # may deactivate an account) come after the rest.
        for role, (client, c) in reversed(crawls.items()):
            ordered = sorted(c.forms.values(), key=lambda item: (item[1].action == "/logout", item[1].action == "/view-as"))
            for page, form in ordered:
                problem = await post_back(client, role, page, form)
                if problem:
                    problems.append(problem)
        total_forms = sum(len(c.forms) for _, c in crawls.values())
        assert total_forms >= 40, f"only {total_forms} distinct forms found"
        assert not problems, "\n".join(problems)
    finally:
        for raw in clients:
            await raw.aclose()


# ---- "View as" a partner: the same rules answer, the same records and pieces are named ------------------------


def named_ids(html: str) -> set[str]:
    """The ids of the records and pieces a page names: in its links and its pieces' marks (forms and banner aside)."""
    return set(re.findall(r'(?:href="[^"]*?|data-piece="|data-record="[a-z_]+:)(' + _UUID.pattern + ")", html))


async def test_viewing_as_each_partner_names_exactly_what_that_partners_own_session_gets(demo_app):
    from sqlalchemy import select

    from cooperation.partners.models import Institution

    async with demo_app.state.session_factory() as session:
        ids = {code: str(i) for i, code in (await session.execute(select(Institution.id, Institution.code))).all()}
    for index, (role, code) in enumerate((("partner.nlc", "NLC"), ("partner.bnf", "BNF"))):
        async with http_client(demo_app, f"192.0.2.{40 + index}") as own_raw, http_client(demo_app, f"192.0.2.{50 + index}") as viewer_raw:
            own, viewer = Client(own_raw), Client(viewer_raw)
            await own.sign_in(f"{role}@{demo.DEMO_DOMAIN}", demo.DEMO_PASSWORD)
            await viewer.sign_in(f"coordinator@{demo.DEMO_DOMAIN}", demo.DEMO_PASSWORD)
            assert (await viewer.form("/view-as", {"institution_id": ids[code], "next": "/"})).status_code == 303
            crawled = await crawl(own, role)
            assert len(crawled.pages) >= 8
            compared = 0
            for url in crawled.pages:
                theirs, as_viewer = await own.get(url), await viewer.get(url)
                assert as_viewer.status_code == theirs.status_code, url
                if url in crawled.files or theirs.status_code != 200:
                    continue
                assert "You are viewing as" in as_viewer.text, url
                assert named_ids(as_viewer.text) == named_ids(theirs.text), url
                compared += 1
            assert compared >= 8


# ---- Every multipart form with each of its fields missing: a 4xx naming it, never a 500 ------------------------


async def test_every_multipart_form_posted_without_each_of_its_fields_is_never_a_server_error(demo_app):
    """A photo upload without its `file` field was a 500 (KeyError). Each upload form the pages show (photos,
    documents, CSV lists, the logo) is posted once per field with that field left out, as the role who sees it."""
    problems, posted = [], 0
    for index, role in enumerate(("admin", "coordinator", "partner.nlc")):
        async with http_client(demo_app, client_address=f"192.0.2.{60 + index}") as raw:
            client = Client(raw)
            await client.sign_in(f"{role}@{demo.DEMO_DOMAIN}", demo.DEMO_PASSWORD)
            crawled = await crawl(client, role)
            for page, form in crawled.forms.values():
                if form.enctype != "multipart/form-data":
                    continue
                names = [n for n, _ in form.pairs if n != "_csrf_token"] + list(form.files)
                for missing in names:
                    data = {k: v for k, v in form.data().items() if k != missing}
                    files = [(n, ("crawler.png", _PNG, "image/png")) for n in form.files if n != missing]
                    # Without any file part httpx would send the form urlencoded: one empty extra part keeps it multipart.
                    files = files or [("_", ("", b"", "text/plain"))]
                    answer = await client.raw.post(form.action or page, data=data, files=files, follow_redirects=False)
                    posted += 1
                    if answer.status_code >= 500:
                        problems.append(f"{role} POST {form.action} without {missing!r} → {answer.status_code}")
    assert posted >= 6, posted
    assert not problems, "\n".join(problems)


# ---- Every page in Vietnamese and Chinese: no English word of the interface left ---------------------

_ELEMENT_TEXT = re.compile(r"(?s)<(button|th|label|h1|h2|h3|dt|option|a|summary|legend|caption)\b[^>]*>(.*?)</\1>")
_ATTRIBUTE = re.compile(r'\b(?:placeholder|aria-label|title|alt)="([^"]*)"')


def _visible(html: str) -> str:
    html = re.sub(r"(?s)<(script|style)\b[^>]*>.*?</\1>", " ", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _interface_words(language: str) -> tuple[dict[str, str], set[str]]:
    """The catalogue's English messages that the language says differently: whole short ones (a button, a heading)
    by their text, and the fragments of longer ones (between their placeholders) that a page would show."""
    from babel.messages.pofile import read_po

    with (i18n.CATALOGUES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    whole: dict[str, str] = {}
    fragments: set[str] = set()
    for message in catalogue:
        if not message.id:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        targets = message.string if isinstance(message.string, tuple) else (message.string,)
        if all(source == target for source, target in zip(sources, targets, strict=False)):
            continue  # PDF, API, CSV: the same in every language
        for source in sources:
            if "%(" not in source:
                whole[" ".join(source.replace("%%", "%").split())] = language
            for piece in re.split(r"%\([a-z_]+\)[sd]|%%|<[^>]+>", source):
                piece = " ".join(piece.split()).strip(" .,:;()·—–-→“”")
                if len(piece) >= 12 and " " in piece:
                    fragments.add(piece)
    return whole, fragments


async def _stored_text(app) -> str:
    """Every string the demo world stores: English typed by people is data, not interface."""
    from sqlalchemy import JSON, String, select
    from sqlmodel import SQLModel

    def textual(column: Any) -> bool:  # String, Text, sqlmodel's AutoString (a decorated String) and JSON lists
        return isinstance(column.type, String | JSON) or isinstance(getattr(column.type, "impl", None), String)

    texts: list[str] = []
    async with app.state.session_factory() as session:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c for c in table.columns if textual(c)]
            if columns:
                for row in await session.execute(select(*columns)):
                    texts += [v if isinstance(v, str) else " ".join(map(str, v)) for v in row if v]
    return " ".join(" ".join(texts).split())


@pytest.mark.parametrize("language", ["vi", "zh_Hans"])
async def test_every_page_speaks_vietnamese_and_chinese(demo_app, language):
    """The pages of the department and of a partner, crawled in the language: no English message of the interface
    shows — not in the text, a button, a heading, a column, an option, a placeholder or a label read aloud."""
    whole, fragments = _interface_words(language)
    stored = await _stored_text(demo_app)
    fragments = {f for f in fragments if f not in stored}
    leaks: dict[str, set[str]] = {}
    for role in ("admin", "partner.nlc"):
        async with http_client(demo_app, client_address=f"192.0.2.{40 + len(leaks)}") as raw:
            client = Client(raw)
            await client.sign_in(f"{role}@{demo.DEMO_DOMAIN}", demo.DEMO_PASSWORD)
            await client.form("/language", {"language": language, "next": "/"})
            result = await crawl(client, role)
            assert len(result.pages) >= 8, result.pages
            for url, status in result.pages.items():
                if status != 200:
                    continue
                response = await client.get(url)
                if not response.headers.get("content-type", "").startswith(_HTML):
                    continue
                assert f'<html lang="{i18n.html_lang(language)}">' in response.text, url
                found = {f for f in fragments if f in _visible(response.text)}
                for _, inner in _ELEMENT_TEXT.findall(response.text):
                    text = _visible(inner).rstrip(" *▲▼")
                    if text in whole and text not in stored:
                        found.add(text)
                found |= {a for a in map(unescape, _ATTRIBUTE.findall(response.text)) if a in whole and a not in stored}
                if found:
                    leaks[f"{role} {pattern(url)}"] = found
    assert not leaks, "\n".join(f"{page}: {sorted(words)}" for page, words in sorted(leaks.items()))
