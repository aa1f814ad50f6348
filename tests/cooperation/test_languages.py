"""LibCoop in its users' languages (issue 13, first step): the language of a request, the switcher, the catalogues."""

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


async def test_the_sign_in_page_speaks_the_browsers_language_and_the_switcher_remembers(anonymous):
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


async def test_gifts_are_typed_in_the_readers_language(client_for, story):
    """The gifts field takes “given: …” / “received: …” in the language the form is shown in (Chinese colons too)."""
    coordinator = await client_for("coordinator")
    await coordinator.form("/language", {"language": "vi", "next": "/"})
    visit_id = story["visit"]["id"]
    form = await coordinator.get(f"/visits/{visit_id}/edit")
    assert "tặng: " in form.text  # the stored gifts, written back in Vietnamese
    from tests.html_forms import form_fields

    fields = form_fields(form.text, f"/visits/{visit_id}")
    fields["gifts"] = "tặng: Bộ sách về Hà Nội\n收到：纪念册\nreceived: a scroll"
    saved = await coordinator.form(f"/visits/{visit_id}", fields)
    assert saved.status_code == 303, saved.text[:500]
    visit = (await coordinator.api("GET", f"/api/v1/visits/{visit_id}")).json()
    assert [(g["direction"], g["description"]) for g in visit["gifts"]] == [
        ("given", "Bộ sách về Hà Nội"),
        ("received", "纪念册"),
        ("received", "a scroll"),
    ]
