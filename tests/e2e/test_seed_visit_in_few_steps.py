"""The seed visit logged from the pages in at most 30 interactions.

A fresh LibCoop set up the documented way (/setup), with the two institutions and their agreement registered and
none of the four people: the administrator signs in, records the November 2025 visit of the National Library of
China experts — the four people typed into the form, the photos chosen together and captioned — and reads it back on
the summary page. Every click, field filled and file choice is counted; it took about 70 before.
"""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.conftest import Client
from tests.e2e.conftest import CHROMIUM_ARGS, migrated_settings, print_setup_code, serving

pytestmark = pytest.mark.e2e

ADMIN = ("Nguyễn Thị Hà", "ha@nlv.gov.vn", "a long admin passphrase")
CAPTIONS = [
    "Vue d’ensemble de la séance de travail",
    "M. Nguyen Xuan Dung, directeur de la Bibliothèque nationale du Viet Nam, préside la réunion",
    "M. Rong Jie présente des applications innovantes des technologies de l’information",
    "Mme Luo Chong partage son expérience",
]


@pytest.fixture
def nlv_with_nlc(tmp_path: Path) -> Iterator[tuple[str, str]]:
    settings = migrated_settings(tmp_path, "nlv")
    with serving(settings) as base:
        yield base, print_setup_code(settings)


async def _register_partner_and_agreement(base: str, code: str) -> None:
    """What the department did months before: set up LibCoop, give the home library its city, register NLC, and the
    agreement signed in April 2025."""
    async with httpx.AsyncClient(base_url=base) as raw:
        client = Client(raw)
        setup = await client.form(
            "/setup",
            {
                "setup_code": code,
                "home_code": "NLV",
                "home_name": "National Library of Vietnam",
                "home_name_native": "Thư viện Quốc gia Việt Nam",
                "country": "VN",
                "admin_name": ADMIN[0],
                "admin_email": ADMIN[1],
                "admin_password": ADMIN[2],
            },
        )
        assert setup.status_code == 303, setup.text
        (listed,) = (await client.api("GET", "/api/v1/institutions")).json()["items"]
        home = (await client.api("GET", f"/api/v1/institutions/{listed['id']}")).json()
        fields = ("code", "name", "name_native", "country", "version")
        edited = await client.api("PUT", f"/api/v1/institutions/{home['id']}", json={**{f: home[f] for f in fields}, "city": "Hà Nội"})
        assert edited.status_code == 200, edited.text
        nlc = await client.api(
            "POST",
            "/api/v1/institutions",
            json={"code": "NLC", "name": "National Library of China", "name_native": "中国国家图书馆", "country": "CN"},
        )
        assert nlc.status_code == 201, nlc.text
        agreement = await client.api(
            "POST",
            "/api/v1/agreements",
            json={
                "reference": "NLV-NLC-2025",
                "title": "Cooperation Agreement between the National Library of Vietnam and the National Library of China",
                "kind": "cooperation_agreement",
                "parties": [{"institution_id": home["id"]}, {"institution_id": nlc.json()["id"]}],
                "effective_on": "2025-04-10",
                "expires_on": "2030-04-09",
            },
        )
        assert agreement.status_code == 201, agreement.text


class Hands:
    """The page, with every interaction a person makes counted."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.count = 0

    async def click(self, selector: str) -> None:
        self.count += 1
        await self.page.click(selector)

    async def fill(self, selector: str, text: str) -> None:
        self.count += 1
        await self.page.fill(selector, text)

    async def choose(self, selector: str, text: str) -> None:
        """The option whose words contain the text, as one picks it from the list."""
        self.count += 1
        value = await self.page.locator(f"{selector} option", has_text=text).first.get_attribute("value")
        await self.page.select_option(selector, value)

    async def pick_files(self, selector: str, paths: list[Path]) -> None:
        self.count += 1
        await self.page.set_input_files(selector, [str(p) for p in paths])


def _photos(folder: Path) -> list[Path]:
    from PIL import Image

    paths = []
    for number, colour in enumerate([(40, 80, 120), (120, 40, 80), (80, 120, 40), (200, 160, 60)], start=2):
        path = folder / f"2025-11-30-hop-tac-0{number}.jpg"
        Image.new("RGB", (640, 427), colour).save(path, format="JPEG")
        paths.append(path)
    return paths


async def test_the_seed_visit_in_at_most_thirty_interactions(nlv_with_nlc, chromium_path, tmp_path):
    base, code = nlv_with_nlc
    await _register_partner_and_agreement(base, code)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
        hands = Hands(page)
        await page.goto(f"{base}/login")
        await hands.fill("#email", ADMIN[1])
        await hands.fill("#password", ADMIN[2])
        await hands.click("button[type=submit]")
        await hands.click("nav >> text=Visits")
        await hands.click("text=Record a visit")

        await hands.fill("#f-title", "Chuyến thăm làm việc của chuyên gia Thư viện Quốc gia Trung Quốc")
        await hands.choose("#f-visiting_institution_id", "National Library of China")
        await hands.fill("#f-starts_on", "2025-11-26")
        await hands.fill("#f-ends_on", "2025-11-29")
        await expect(page.locator("#f-city")).to_have_value("Hà Nội")  # the home library's city, for an incoming visit
        await hands.fill("#f-theme", "Produits et services de bibliothèque dans l’environnement numérique")
        await hands.choose("#f-agreement_id", "NLV-NLC-2025")
        # The four people are new: typed in their rows; the first of each side is preset as its head.
        for selector, text in [
            ("#f-delegation-0-name", "Rong Jie"),
            ("#f-delegation-0-position", "Directeur du Département de la gestion des magasins et des services de lecture"),
            ("#f-delegation-1-name", "Luo Chong"),
            ("#f-delegation-1-position", "Directrice adjointe du Département de la coopération et des opérations"),
            ("#f-host-0-name", "Nguyễn Xuân Dũng"),
            ("#f-host-0-position", "Directeur de la Bibliothèque nationale du Viet Nam"),
            ("#f-host-1-name", "Nguyễn Ngọc Ánh"),
            ("#f-host-1-position", "Directrice adjointe"),
            ("#f-agenda-0-day", "2025-11-27"),
            ("#f-agenda-0-title", "Produits et services de bibliothèque dans l’environnement numérique"),
            (
                "#f-outcome-0-text",
                "Nouvelles perspectives : modèles de bibliothèques intelligentes, services numériques, numérisation du patrimoine",
            ),
        ]:
            await hands.fill(selector, text)
        await hands.click("button:has-text('Save')")
        await expect(page.locator("h1")).to_contain_text("Chuyến thăm làm việc")

        await hands.pick_files("#photo-files", _photos(tmp_path))
        await hands.click("button:has-text('Upload')")
        await expect(page.locator("#arrange")).to_have_attribute("open", "")
        await expect(page.locator("#photo-0-caption")).to_be_focused()
        for index, caption in enumerate(CAPTIONS):
            await hands.fill(f"#photo-{index}-caption", caption)
        await hands.click("button:has-text('Save order and captions')")

        summary = page.locator("#summary")
        await expect(summary).to_contain_text("26–29 Nov 2025, Hà Nội")
        await expect(summary).to_contain_text("Rong Jie")
        await expect(summary).to_contain_text("Nguyễn Xuân Dũng")
        await expect(summary).to_contain_text("Luo Chong")
        await expect(summary).to_contain_text("Nguyễn Ngọc Ánh")
        await expect(page.locator("#photos figcaption")).to_have_count(4)
        await expect(page.locator("#photos figcaption").nth(1)).to_contain_text("préside la réunion")
        await expect(page.locator("main")).to_contain_text("NLV-NLC-2025")
        await browser.close()
    assert hands.count <= 30, f"{hands.count} interactions"
    print(f"the seed visit took {hands.count} interactions")
