"""The README's "Run it for your library" is what a library's IT follows on an empty machine: it names the Debian
packages `.ci/bootstrap` installs for a server, a PostgreSQL role made with its password, where `coop serve` listens,
`coop db upgrade` after `coop restore`, and who each demo account is (the sign-in page shows names)."""

import re

from cooperation import demo
from cooperation.settings import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
BOOTSTRAP = (PROJECT_ROOT / ".ci" / "bootstrap").read_text(encoding="utf-8")
SECTION = README[README.index("## Run it for your library") : README.index("## Demo sign-in")]


def test_the_server_packages_are_those_bootstrap_installs():
    server = set()
    for line in BOOTSTRAP.splitlines():
        if line.strip().startswith("install_missing ") and "chromium" not in line:
            server |= set(line.split("#")[0].split()[1:])
    assert server and all(f"{package}" in SECTION for package in server), server - {p for p in server if p in SECTION}


def test_postgresql_serve_and_restore_are_said():
    assert re.search(r"CREATE ROLE libcoop LOGIN PASSWORD", SECTION)
    assert re.search(r"postgresql://libcoop:[^@\s]+@", SECTION)  # the password in the URL (or ~/.pgpass)
    assert "127.0.0.1:8000" in SECTION and "COOP_BASE_URL" in SECTION
    assert re.search(r"coop restore.*\n?.*coop db upgrade", SECTION)


def test_each_demo_account_is_named_as_the_sign_in_page_names_it():
    demo_section = README[README.index("## Demo sign-in") : README.index("## The `coop` command")]
    for local, name, *_ in demo.USERS:
        row = next(line for line in demo_section.splitlines() if f"`{local}@{demo.DEMO_DOMAIN}`" in line)
        assert name in row, (local, name)
