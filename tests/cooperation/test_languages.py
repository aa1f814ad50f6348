"""LibCoop in its users' languages: the language of a request, the switcher, the catalogues."""

import re
import subprocess
import sys

import pytest
from babel.messages.pofile import read_po

from cooperation import i18n
from cooperation.settings import PROJECT_ROOT


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_Hans"),
        ("zh-Hans", "zh_Hans"),
        ("vi-VN,vi;q=0.9", "vi"),
        ("fr-CA", "fr"),
        ("de-DE,en;q=0.5", "en"),
        ("zh-TW", None),
        ("en;q=0.2,vi;q=0.8", "vi"),
        ("", None),
    ],
)
def test_accept_language_is_negotiated(header, expected):
    assert i18n.from_accept_language(header) == expected


def test_the_users_choice_comes_first_then_the_cookie_then_the_browser_then_the_default():
    assert i18n.choose(user="fr", cookie="vi", accept_language="zh-CN", default="en") == "fr"
    assert i18n.choose(user=None, cookie="vi", accept_language="zh-CN", default="en") == "vi"
    assert i18n.choose(user=None, cookie=None, accept_language="zh-CN", default="en") == "zh_Hans"
    assert i18n.choose(user=None, cookie=None, accept_language="de", default="vi") == "vi"


async def test_the_sign_in_page_speaks_the_browsers_language_and_the_switcher_remembers(anonymous, world):
    # (`world`: an administrator exists, so /login is the sign-in page rather than the way to /setup)
    vietnamese = await anonymous.get("/login", headers={"Accept-Language": "vi-VN,vi;q=0.9"})
    assert '<html lang="vi">' in vietnamese.text and "Đăng nhập LibCoop" in vietnamese.text and "Mật khẩu" in vietnamese.text
    switched = await anonymous.form("/language", {"language": "zh_Hans", "next": "/login"})
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    chinese = await anonymous.get("/login", headers={"Accept-Language": "vi-VN"})
    assert '<html lang="zh-Hans">' in chinese.text and "登录 LibCoop" in chinese.text
    assert 'value="zh_Hans" lang="zh-Hans" selected' in chinese.text
    foreign = await anonymous.form("/language", {"language": "fr", "next": "https://evil.example/"})
    assert foreign.headers["location"] == "/"


async def test_a_signed_in_users_choice_is_kept_in_their_profile(client_for, db, world):
    from cooperation.auth.models import User

    partner = await client_for("partner_a")
    await partner.form("/language", {"language": "fr", "next": "/"})
    home = await partner.get("/", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="fr">' in home.text and ">Accords</a>" in home.text and "Se déconnecter" in home.text
    assert "Bibliothécaire partenaire" in home.text
    user = await db.get(User, world.principals["partner_a"].user_id)
    await db.refresh(user)
    assert user.language == "fr"


def test_every_message_is_in_every_catalogue_and_translated(tmp_path):
    template = tmp_path / "messages.pot"
    command = [
        sys.executable,
        "-m",
        "babel.messages.frontend",
        "extract",
        "-F",
        "pyproject.toml",
        "--ignore-dirs",
        ".* tests bench migrations",
    ]
    command += ["-k", "lazy_gettext", "-k", "NP_:1c,2", "-o", str(template), "."]
    subprocess.run(command, cwd=PROJECT_ROOT, check=True, capture_output=True, timeout=120)
    with template.open("rb") as handle:
        used = {m.id for m in read_po(handle) if m.id}
    assert len(used) >= 30
    for language in ("fr", "vi", "zh_Hans"):
        with (i18n.CATALOGUES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
            catalogue = read_po(handle, locale=language)
        strings = {m.id: (m.string if isinstance(m.string, tuple) else (m.string,)) for m in catalogue if m.id and "fuzzy" not in m.flags}
        translated = {key for key, forms in strings.items() if forms and all(forms)}
        assert not used - translated, (language, sorted(used - translated))


@pytest.mark.parametrize("language", ["fr", "vi", "zh_Hans"])
def test_every_translation_formats_with_its_placeholders(language):
    """A translation with a bare "%" ("%(number)s điểm %") raised "incomplete format" in the middle of a report: every
    translation of a message with placeholders must format with them."""
    with (i18n.CATALOGUES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    broken = []
    for message in catalogue:
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        if not message.id or not any("%" in source for source in sources):
            continue
        names = {name: 1 for source in sources for name in re.findall(r"%\((\w+)\)", source)}
        for form in message.string if isinstance(message.string, tuple) else (message.string,):
            try:
                form % (names or ())
            except (ValueError, KeyError, TypeError) as exc:
                broken.append((sources[0], form, str(exc)))
    assert not broken, broken


@pytest.mark.parametrize(
    ("language", "day", "days", "number", "percent", "month"),
    [
        ("en", "26 November 2025", "26–29 Nov 2025", "140,000", "82.9%", "November 2025"),
        ("fr", "26 novembre 2025", "26–29 nov. 2025", "140\u202f000", "82,9\u00a0%", "novembre 2025"),
        ("vi", "26 tháng 11, 2025", "26\u2009–\u200929 thg 11, 2025", "140.000", "82,9%", "tháng 11 năm 2025"),
        ("zh_Hans", "2025年11月26日", "2025年11月26日至29日", "140,000", "82.9%", "2025年11月"),
    ],
)
def test_dates_and_numbers_are_written_as_each_language_writes_them(language, day, days, number, percent, month):
    from datetime import UTC, date, datetime

    assert i18n.format_day(date(2025, 11, 26), language=language) == day
    assert i18n.format_days(date(2025, 11, 26), date(2025, 11, 29), language=language) == days
    assert i18n.format_number(140000, language=language) == number
    assert i18n.format_percent(82.90000000000001, language=language) == percent
    assert i18n.format_month(date(2025, 11, 1), language=language) == month
    # An instant in the reader's time zone: 14:30 UTC is 21:30 in Hà Nội.
    assert i18n.format_instant(datetime(2025, 11, 26, 14, 30, tzinfo=UTC), "Asia/Ho_Chi_Minh", language=language).startswith(day + " 21:30")


async def test_the_api_speaks_english_unless_the_client_asks(client_for, db, world):
    """Field names and codes stay English; the problem's `detail` follows Accept-Language — not the account's page
    language (a script gets the same words whoever runs it)."""
    import uuid

    from cooperation.auth.models import User

    user = await db.get(User, world.principals["partner_a"].user_id)
    user.language = "zh_Hans"
    await db.commit()
    partner = await client_for("partner_a")
    missing = f"/api/v1/agreements/{uuid.uuid4()}"
    plain = await partner.api("GET", missing)
    assert plain.status_code == 404 and plain.json()["detail"] == "No such agreement."
    vietnamese = await partner.api("GET", missing, headers={"Accept-Language": "vi-VN,vi;q=0.9"})
    assert vietnamese.json() | {"detail": None} == plain.json() | {"detail": None}  # same type, title, status
    assert vietnamese.json()["detail"] == "Không có thỏa thuận này."
    refused = await partner.api("POST", "/api/v1/agreements", json={"reference": "X"}, headers={"Accept-Language": "zh-CN"})
    assert refused.status_code in (400, 403, 422) and refused.json()["title"] in ("Invalid request", "Not allowed", "Invalid input")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in refused.json()["detail"]), refused.json()
    page = await partner.get("/agreements")  # the pages follow the profile
    assert '<html lang="zh-Hans">' in page.text and ">合作协议</" in page.text


async def test_gifts_are_said_in_the_readers_language(client_for, story):
    """A gift's row says given or received in the language the form is shown in; what is stored stays the value."""
    coordinator = await client_for("coordinator")
    await coordinator.form("/language", {"language": "vi", "next": "/"})
    visit_id = story["visit"]["id"]
    form = await coordinator.get(f"/visits/{visit_id}/edit")
    assert '<option value="given" selected>Tặng</option>' in form.text  # the stored gift, said in Vietnamese
    from tests.html_forms import form_fields

    fields = form_fields(form.text, f"/visits/{visit_id}")
    blank = next(i for i in range(10) if fields.get(f"gift-{i}-description") == "")
    fields |= {f"gift-{blank}-direction": "received", f"gift-{blank}-description": "纪念册"}
    saved = await coordinator.form(f"/visits/{visit_id}", fields)
    assert saved.status_code == 303, saved.text[:500]
    visit = (await coordinator.api("GET", f"/api/v1/visits/{visit_id}")).json()
    assert [(g["direction"], g["description"]) for g in visit["gifts"]][-1] == ("received", "纪念册")


async def test_a_record_in_several_languages_is_read_in_the_readers(app, client_for, world):
    """An agreement typed in English with its Vietnamese and Chinese title and summary: each reader's pages show their
    language and the original below it, search finds it by any version, the Chinese report prints the Chinese title;
    a language LibCoop does not speak is refused, naming it."""
    from tests.agreements.helpers import agreement_payload
    from tests.cooperation.test_reports import finished, pdf_text

    coordinator = await client_for("coordinator")
    body = agreement_payload(
        [world.home, world.nlc],
        reference="NLV-NLC-2026-L",
        title="Agreement on the joint digitization of Hán Nôm books",
        translations={
            "vi": {"title": "Thỏa thuận số hóa chung sách Hán Nôm", "summary": "Hai bên cùng số hóa sách Hán Nôm."},
            "zh_Hans": {"title": "汉喃古籍联合数字化协议"},
            "fr": {"title": "  ", "summary": ""},  # a blank version is no version
        },
    )
    created = await coordinator.api("POST", "/api/v1/agreements", json=body)
    assert created.status_code == 201, created.text
    agreement = created.json()
    assert set(agreement["translations"]) == {"vi", "zh_Hans"}
    url = f"/agreements/{agreement['id']}"

    await coordinator.form("/language", {"language": "vi", "next": "/"})
    page = await coordinator.get(url)
    assert "NLV-NLC-2026-L · Thỏa thuận số hóa chung sách Hán Nôm</h1>" in page.text
    assert "Agreement on the joint digitization of Hán Nôm books" in page.text  # the original, below
    assert "Hai bên cùng số hóa sách Hán Nôm." in page.text
    listed = await coordinator.get("/agreements", params={"q": "han nom sach"})  # by the Vietnamese words, unaccented
    assert "Thỏa thuận số hóa chung sách Hán Nôm" in listed.text

    await coordinator.form("/language", {"language": "zh_Hans", "next": "/"})
    assert "汉喃古籍联合数字化协议</h1>" in (await coordinator.get(url)).text
    assert "NLV-NLC-2026-L" in (await coordinator.get("/agreements", params={"q": "联合数字化"})).text
    await coordinator.form("/language", {"language": "fr", "next": "/"})
    assert "Agreement on the joint digitization of Hán Nôm books</h1>" in (await coordinator.get(url)).text  # no French: original

    asked = await coordinator.api("POST", "/api/v1/reports", json={"kind": "agreement", "scope_id": agreement["id"], "language": "zh_Hans"})
    run = await finished(app, coordinator, asked.json())
    text = pdf_text((await coordinator.get(run["download_url"])).content)
    assert "协议档案 — NLV-NLC-2026-L" in text and "汉喃古籍联合数字化协议" in text

    refused = await coordinator.api("POST", "/api/v1/agreements", json={**body, "reference": "X-1", "translations": {"de": {"title": "x"}}})
    assert refused.status_code == 422 and "translations.de" in refused.json()["errors"], refused.text


async def test_an_agreements_texts_side_by_side_and_the_one_that_prevails(app, client_for, world):
    """“In case of divergence the Chinese text prevails”: the agreement says which text prevails; its page shows the
    signed texts in a column per language with that one marked, in the reader's language; the dossier PDF says so."""
    from tests.agreements.helpers import agreement_payload
    from tests.cooperation.test_reports import finished, pdf_text

    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    coordinator = await client_for("coordinator")
    body = agreement_payload([world.home, world.nlc], reference="NLV-NLC-2026-T", prevailing_language="zh")
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=body)).json()
    assert agreement["prevailing_language"] == "zh"
    for title, language in (("Bản ký tiếng Việt", "vi"), ("中文签署本", "zh")):
        uploaded = await coordinator.api(
            "POST",
            f"/api/v1/attachments/agreement/{agreement['id']}",
            files={"file": (f"{language}.pdf", pdf, "application/pdf")},
            data={"title": title, "language": language},
        )
        assert uploaded.status_code == 201, uploaded.text
    page = await coordinator.get(f"/agreements/{agreement['id']}")
    texts = page.text[page.text.index('id="texts"') : page.text.index('id="documents"')]
    assert "In case of divergence, the Chinese text prevails." in texts
    columns = texts[texts.index("text-columns") :]
    assert columns.index("Vietnamese") < columns.index("Bản ký tiếng Việt") < columns.index("Chinese") < columns.index("中文签署本")
    assert 'class="text-column prevails" lang="zh"' in texts and 'class="text-column" lang="vi"' in texts
    await coordinator.form("/language", {"language": "vi", "next": "/"})
    assert "văn bản Tiếng Trung được ưu tiên áp dụng" in (await coordinator.get(f"/agreements/{agreement['id']}")).text
    asked = await coordinator.api("POST", "/api/v1/reports", json={"kind": "agreement", "scope_id": agreement["id"], "language": "fr"})
    text = pdf_text((await coordinator.get((await finished(app, coordinator, asked.json()))["download_url"])).content)
    assert "En cas de divergence, le texte en chinois prévaut." in text
    wrong = await coordinator.api("POST", "/api/v1/agreements", json={**body, "reference": "X-2", "prevailing_language": "klingon"})
    assert wrong.status_code == 422 and "prevailing_language" in wrong.json()["errors"]


async def test_lists_sort_names_in_the_readers_alphabet(client_for, world):
    """Vietnamese order puts Â after A as a letter of its own and Đ after D; Chinese orders by pinyin; English reads
    Â as an A with an accent — on SQLite (PyICU, per connection) as on PostgreSQL (ICU collations)."""
    coordinator = await client_for("coordinator")
    names = ["Ân Thị Hoa", "Anh Văn Bình", "Đặng Thu", "Dương Lan", "阿明", "陈静", "李华", "王芳", "张伟"]
    for name in names:
        created = await coordinator.api("POST", "/api/v1/people", json={"name": name, "institution_id": str(world.nlc)})
        assert created.status_code == 201, created.text

    async def order(language: str) -> list[str]:
        listed = await coordinator.api(
            "GET",
            "/api/v1/people",
            params={"institution_id": str(world.nlc), "sort": "name", "per_page": 100},
            headers={"Accept-Language": language},
        )
        return [p["name"] for p in listed.json()["items"] if p["name"] in names]

    vietnamese, chinese, english = await order("vi"), await order("zh-CN"), await order("en")
    latin = [n for n in vietnamese if not "\u4e00" <= n[0] <= "\u9fff"]
    assert latin == ["Anh Văn Bình", "Ân Thị Hoa", "Dương Lan", "Đặng Thu"], vietnamese
    assert [n for n in chinese if "\u4e00" <= n[0] <= "\u9fff"] == ["阿明", "陈静", "李华", "王芳", "张伟"], chinese  # ā chén lǐ wáng zhāng
    assert english.index("Ân Thị Hoa") < english.index("Anh Văn Bình"), english  # an < anh: the accent weighs less
    descending = await coordinator.api(
        "GET",
        "/api/v1/people",
        params={"institution_id": str(world.nlc), "sort": "-name", "per_page": 100},
        headers={"Accept-Language": "vi"},
    )
    assert [p["name"] for p in descending.json()["items"] if p["name"] in names] == vietnamese[::-1]


async def test_search_folds_vietnamese_and_finds_chinese_substrings(client_for, world):
    """“dang” finds Đặng, “thu vien” finds Thư viện, “古籍” finds a name that has it inside — on both databases."""
    coordinator = await client_for("coordinator")
    for name in ("Đặng Thị Thu", "Thư viện Hà Nội · 河内图书馆", "中华古籍智慧化服务平台"):
        created = await coordinator.api("POST", "/api/v1/people", json={"name": name, "institution_id": str(world.nlc)})
        assert created.status_code == 201, created.text

    async def found(q: str) -> set[str]:
        listed = await coordinator.api("GET", "/api/v1/people", params={"q": q, "per_page": 100})
        return {p["name"] for p in listed.json()["items"]}

    assert "Đặng Thị Thu" in await found("dang")
    assert "Đặng Thị Thu" in await found("ĐẶNG")
    assert "Thư viện Hà Nội · 河内图书馆" in await found("thu vien")
    assert "Thư viện Hà Nội · 河内图书馆" in await found("图书")
    assert await found("古籍") >= {"中华古籍智慧化服务平台"} and await found("智慧化服务") >= {"中华古籍智慧化服务平台"}
    assert "中华古籍智慧化服务平台" not in await found("古书")


async def test_the_calendar_feed_speaks_its_owners_language(app, client_for, world, people):
    """A calendar program sends no language: the feed's summaries and name are in its owner's (profile) language."""
    import re

    import icalendar

    from tests.conftest import http_client
    from tests.exchanges.helpers import seed_visit_payload

    coordinator = await client_for("coordinator")
    body = seed_visit_payload(world, people, starts_on="2026-12-07", ends_on="2026-12-10", agenda=[])
    assert (await coordinator.api("POST", "/api/v1/visits", json=body)).status_code == 201
    partner = await client_for("partner_a")
    await partner.form("/language", {"language": "zh_Hans", "next": "/"})
    page = await partner.form("/account/calendar", {})
    path = re.search(r'<code id="feed-url">([^<]+)</code>', page.text).group(1).split("testserver", 1)[1]
    async with http_client(app) as calendar_program:
        feed = icalendar.Calendar.from_ical((await calendar_program.get(path, headers={"Accept-Language": "en"})).content)
    assert str(feed["x-wr-calname"]) == "LibCoop · 国际合作"
    summaries = {str(e["summary"]) for e in feed.walk("VEVENT")}
    assert "访问：Working visit of National Library of China experts（NLC → NLV）" in summaries, summaries


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_report_says_what_the_services_say_in_its_own_language(demo_app, backend):
    """An English-speaking coordinator asks for the portfolio in Vietnamese: the project's risks and dates, written by
    the services, come out in Vietnamese too, not in the asker's language."""
    from datetime import date

    from sqlalchemy import select

    from cooperation import demo
    from cooperation.auth.models import User
    from cooperation.auth.services import principal_of
    from cooperation.reports import builders, periods

    async with demo_app.state.session_factory() as session:
        user = await session.scalar(select(User).where(User.email == f"coordinator@{demo.DEMO_DOMAIN}"))
        principal = principal_of(user)
        i18n.activate("en")
        built = await builders.build(
            session, principal, demo_app.state.settings, "portfolio", None, periods.parse("2025"), "vi", today=date(2026, 11, 30)
        )
    assert i18n.current() == "en"  # the asker's language is back once the report is built
    assert "Tiến độ số hóa" in built.html and "Rủi ro" in built.html
    assert "không báo cáo quá 120 ngày" in built.html and "no report for more than" not in built.html


async def test_refusals_are_titled_in_the_readers_language(client_for, anonymous, world):
    """Error pages' titles (Not found, Conflict, Invalid input…) and the sign-in middleware's words follow the reader
    too; a version longer than a title may be is refused, naming its field, not stored."""
    import uuid

    partner = await client_for("partner_a")
    await partner.form("/language", {"language": "vi", "next": "/"})
    missing = await partner.get(f"/agreements/{uuid.uuid4()}")
    assert missing.status_code == 404 and "<h1>Không tìm thấy</h1>" in missing.text and "Không có thỏa thuận này." in missing.text
    unsigned = await anonymous.raw.get("/api/v1/agreements", headers={"Accept-Language": "zh-CN"})
    assert unsigned.status_code == 401 and unsigned.json()["detail"] == "请登录后继续。", unsigned.json()
    coordinator = await client_for("coordinator")
    await coordinator.form("/language", {"language": "fr", "next": "/"})
    page = await coordinator.get("/agreements/new")
    from tests.html_forms import form_fields

    fields = form_fields(page.text, "/agreements") | {
        "reference": "LONG-1",
        "title": "Accord",
        "party-0-institution_id": str(world.home),
        "party-1-institution_id": str(world.nlc),
        "translation-vi-title": "x" * 401,
    }
    refused = await coordinator.form("/agreements", fields)
    assert refused.status_code == 422 and "LONG-1" not in (await coordinator.get("/agreements")).text  # nothing stored
    assert refused.text.count("Intitulé · Tiếng Việt: au plus 400 caractères") == 2  # the list atop and the section
