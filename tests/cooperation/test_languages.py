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
        translated = {m.id for m in catalogue if m.id and m.string and "fuzzy" not in m.flags}
        assert not used - translated, (language, sorted(used - translated))
