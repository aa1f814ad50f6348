"""The seed visit logged from the pages in at most 40 interactions: everything the article records.

A fresh LibCoop set up the documented way (/setup), with the two institutions and their agreement registered and
none of the four people: the administrator signs in and records the November 2025 visit of the National Library of
China experts as the article tells it (../shared/seed/) — the two experts and the two hosts with their titles (who
chaired), the theme, the three presentations with their presenters, what both sides agreed and the new areas of
cooperation, the commemorative gifts both ways, all seven photos with their captions, the April 2025 agreement it
implements — plus two follow-up actions, completed; then reads every element back on the summary page and in its PDF.
The people, the programme, what was agreed and the follow-ups are pasted as lines. Every click, field filled and
file choice is counted; it took 67 before.
"""

import asyncio
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
    "M. Rong Jie présente des applications innovantes des technologies de l’information dans les services de lecture",
    "Mme Luo Chong partage son expérience dans la mise en place de la Plateforme de services intelligents",
    "Échanges et discussions autour des produits et services de bibliothèque dans l’environnement numérique",
    "Le directeur et les experts chinois lors de la remise de cadeaux commémoratifs",
    "Photo souvenir entre les responsables de la Bibliothèque nationale du Viet Nam et les experts chinois",
]
DELEGATION = [
    ("Rong Jie", "Directeur du Département de la gestion des magasins et des services de lecture"),
    ("Luo Chong", "Directrice adjointe du Département de la coopération et des opérations"),
]
HOSTS = [("Nguyễn Xuân Dũng", "Directeur de la Bibliothèque nationale du Viet Nam"), ("Nguyễn Ngọc Ánh", "Directrice adjointe")]
THEME = "Produits et services de bibliothèque dans l’environnement numérique"
PRESENTATIONS = [
    ("09:00", "L’Internet des objets au service des usagers : géolocalisation, RFID, rayonnages intelligents", "Rong Jie"),
    ("10:00", "Technologies immersives : réalité augmentée et réalité virtuelle", "Rong Jie"),
    ("10:45", "Le Système national de bibliothèques intelligentes et la Plateforme pour les ouvrages anciens chinois", "Luo Chong"),
]
OUTCOMES = [
    "Vision commune : les nouvelles technologies sont un levier de transformation des bibliothèques",
    "Nouvelle perspective de coopération : modèles de bibliothèques intelligentes",
    "Nouvelle perspective de coopération : services aux usagers par des produits et services numériques",
    "Nouvelle perspective de coopération : conservation et numérisation du patrimoine documentaire",
    "Première étape de la mise en œuvre de l’Accord de coopération signé en avril 2025",
]
GIFTS = ("Cadeau commémoratif de la Bibliothèque nationale du Viet Nam", "Cadeau commémoratif de la Bibliothèque nationale de Chine")
ACTIONS = [
    ("Envoyer la documentation de la Plateforme des ouvrages anciens", "NLC", "2026-01-31"),
    ("Proposer le programme d’échanges professionnels 2026", "NLV", "2026-02-28"),
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
    for number in range(2, 9):  # 2025-11-30-hop-tac-02 … 08, as the article names them
        path = folder / f"2025-11-30-hop-tac-0{number}.jpg"
        Image.new("RGB", (640, 427), (30 * number, 200 - 20 * number, 90)).save(path, format="JPEG")
        paths.append(path)
    return paths


async def test_the_seed_visit_in_at_most_forty_interactions(nlv_with_nlc, chromium_path, tmp_path):
    from tests.cooperation.test_reports import pdf_text

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
        await hands.fill("#f-theme", THEME)
        await hands.choose("#f-agreement_id", "NLV-NLC-2025")
        # The people, the programme and what was agreed, pasted as lines; the preview shows the rows they make.
        await hands.fill("#paste-delegation", "\n".join(f"{name}, {title}" for name, title in DELEGATION))
        await hands.fill("#paste-host", "\n".join(f"{name}, {title}" for name, title in HOSTS))
        await expect(page.locator("#paste-preview-host")).to_contain_text("Chair")
        await hands.fill("#paste-agenda", "\n".join(f"27/11 {at} {title} — {who}" for at, title, who in PRESENTATIONS))
        await expect(page.locator("#paste-preview-agenda")).to_contain_text("2025-11-27 10:45")
        await hands.fill("#paste-outcome", "\n".join(OUTCOMES))
        await hands.fill("#f-gift-0-description", GIFTS[0])
        await hands.click("#add-gift")
        await hands.choose("#f-gift-1-direction", "Received")
        await hands.fill("#f-gift-1-description", GIFTS[1])
        await hands.click("button:has-text('Save')")
        await expect(page.locator("h1")).to_contain_text("Chuyến thăm làm việc")
        await expect(page.locator(".actions .badge").first).to_have_text("Completed")  # logged after the fact

        await hands.pick_files("#photo-files", _photos(tmp_path))
        await hands.click("button:has-text('Upload')")
        await expect(page.locator("#arrange")).to_have_attribute("open", "")
        await expect(page.locator("#photo-0-caption")).to_be_focused()
        for index, caption in enumerate(CAPTIONS):
            await hands.fill(f"#photo-{index}-caption", caption)
        await hands.click("button:has-text('Save order and captions')")

        # The visit is the department's own until shared: NLC, which has an action to do, is let in.
        await hands.click("text=Share with the partners…")
        await hands.click("button:has-text('Share it with them')")
        await hands.fill("#f-follow-up-lines", "\n".join(f"{text} — {who} — {due}" for text, who, due in ACTIONS))
        await hands.click("#follow-up-lines button:has-text('Add these actions')")
        for text, _, _ in ACTIONS:
            row = page.locator("#follow-ups tr", has_text=text)
            await hands.choose(f"#follow-ups tr:has-text('{text}') select[name=status]", "Done")
            await hands.click(f"#follow-ups tr:has-text('{text}') button")
            await expect(page.locator("#follow-ups tr", has_text=text)).to_contain_text("Done")
            assert row is not None

        # Everything the article records, read back on the summary page…
        main = page.locator("main")
        for name, title in DELEGATION + HOSTS:
            await expect(main).to_contain_text(name)
            await expect(main).to_contain_text(title)
        for expected in [THEME, *(t for _, t, _ in PRESENTATIONS), *OUTCOMES, *GIFTS, *CAPTIONS, "NLV-NLC-2025"]:
            await expect(main).to_contain_text(expected)
        await expect(page.locator("#photos figcaption")).to_have_count(7)
        # …and in its PDF, one click away.
        await hands.click("#pdf-visit button")
        await expect(page.locator("#download")).to_be_visible(timeout=60_000)
        async with page.expect_download() as downloading:
            await hands.click("#download")
        pdf = " ".join(pdf_text(await asyncio.to_thread(Path(await (await downloading.value).path()).read_bytes)).split())
        for expected in [*(n for n, _ in DELEGATION + HOSTS), THEME, *(t for _, t, _ in PRESENTATIONS), *OUTCOMES, *GIFTS]:
            assert expected in pdf, expected
        for caption in CAPTIONS:
            assert caption in pdf, caption
        await browser.close()
    assert hands.count <= 40, f"{hands.count} interactions"
    print(f"the seed visit took {hands.count} interactions")
