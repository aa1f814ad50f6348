"""Every page flow that carries a file or a form, clicked in Chromium by the role who does it, on the demo world.

Three of these forms failed for everybody ("CSRF check failed") while the API tests passed: a form is tested here,
the way it is used, and the result is read on the page.
"""

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Page, async_playwright, expect

from tests.e2e.conftest import CHROMIUM_ARGS, sign_in

pytestmark = pytest.mark.e2e


def _photo(path: Path, colour: tuple[int, int, int]) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue())
    return path


async def _open_seed_visit(page: Page, base: str) -> str:
    await page.goto(f"{base}/visits")
    await page.click("text=Working visit of National Library of China experts >> nth=0")
    return page.url


async def test_a_coordinator_works_on_records_from_the_pages(served_app, chromium_path, tmp_path):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await sign_in(page, served_app, "coordinator")

        # A document on the agreement, then a comment.
        await page.goto(f"{served_app}/agreements")
        await page.click("text=NLV-NLC-2025")
        signed = tmp_path / "ban-ky.pdf"
        signed.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
        upload = page.locator("#documents form[enctype='multipart/form-data']")
        await upload.locator("input[type=file]").set_input_files(str(signed))
        await upload.locator("input[name=title]").fill("Bản ký (tiếng Việt)")
        await upload.locator("button[type=submit]").click()
        await expect(page.locator("#documents table")).to_contain_text("Bản ký (tiếng Việt)")
        await page.fill("#comment-body", "Đã gửi bản ký cho NLC · 已寄送签署本")
        await page.click("#comments button:has-text('Post comment')")
        await expect(page.locator("#comments")).to_contain_text("Đã gửi bản ký cho NLC · 已寄送签署本")

        # Photos of the seed visit: two chosen together, then each captioned beside it (the first blank one focused).
        visit_url = await _open_seed_visit(page, served_app)
        before = await page.locator("#photos figure").count()
        chosen = [str(_photo(tmp_path / name, colour)) for name, colour in (("1.jpg", (200, 30, 30)), ("2.jpg", (30, 30, 200)))]
        await page.set_input_files("#photo-files", chosen)
        await page.click("#photos button:has-text('Upload')")
        await expect(page.locator(f"#photo-{before}-caption")).to_be_focused()
        await page.fill(f"#photo-{before}-caption", "Phiên làm việc")
        await page.fill(f"#photo-{before + 1}-caption", "Trao quà lưu niệm")
        await page.click("button:has-text('Save order and captions')")
        await expect(page.locator("#photos figure")).to_have_count(before + 2)
        await expect(page.locator("#photos figure").nth(before + 1)).to_contain_text("Trao quà lưu niệm")

        # Edit the visit: what was changed shows on its summary.
        await page.goto(visit_url + "/edit")
        await page.fill("#f-venue", "Hội trường tầng 2, Thư viện Quốc gia Việt Nam")
        await page.click("button:has-text('Save')")
        await expect(page.locator("#summary")).to_contain_text("Hội trường tầng 2")

        # A visit recorded after it happened is completed from its page.
        token = next(c["value"] for c in await page.context.cookies() if c["name"] == "coop_csrf")
        people = await (await page.request.get(f"{served_app}/api/v1/people?q=Rong")).json()
        institutions = await (await page.request.get(f"{served_app}/api/v1/institutions?per_page=100")).json()
        codes = {i["code"]: i["id"] for i in institutions["items"]}
        created = await page.request.post(
            f"{served_app}/api/v1/visits",
            headers={"x-csrf-token": token},
            data={
                "title": "Study visit of NLC experts, spring 2024",
                "direction": "incoming",
                "host_institution_id": codes["NLV"],
                "visiting_institution_id": codes["NLC"],
                "starts_on": "2024-05-13",
                "ends_on": "2024-05-15",
                "participants": [{"person_id": people["items"][0]["id"], "side": "delegation", "role": "head_of_delegation"}],
            },
        )
        assert created.status == 201, await created.text()
        await page.goto(f"{served_app}/visits/{(await created.json())['id']}")
        status_form = page.locator("form[action$='/transition']")
        options = await status_form.locator("select[name=to] option").all_inner_texts()
        assert "Under way" not in options and "Completed" in options  # past its dates: completed, never under way
        await status_form.locator("select[name=to]").select_option("completed")
        await status_form.locator("button:has-text('Apply')").click()
        await expect(page.locator("body")).to_contain_text("proposed → completed")
        assert await page.locator("form[action$='/transition']").count() == 0  # a final state

        # She records herself as a person of the library and links her account (suggested by its e-mail).
        await page.goto(f"{served_app}/people/new")
        await page.fill("#f-name", "Tran Thu Ha")
        await page.fill("#f-name_native", "Trần Thu Hà")
        await page.select_option("#f-institution_id", label="NLV · National Library of Vietnam")
        await page.fill("#f-email", "coordinator@demo.libcoop.test")
        await page.click("button:has-text('Save')")
        account = page.locator("#account")
        await expect(account).to_contain_text("Not linked to an account")
        suggested = account.locator("option", has_text="(same e-mail)")
        await account.locator("select[name=user_id]").select_option(await suggested.get_attribute("value"))
        await account.locator("button:has-text('Save')").click()
        await expect(page.locator("#account")).to_contain_text("Signs in as Trần Thu Hà")
        await browser.close()


async def test_a_director_subscribes_to_the_monthly_report(served_app, chromium_path):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await sign_in(page, served_app, "director")
        await page.goto(f"{served_app}/reports/subscriptions")
        await page.select_option("#f-kind", "portfolio")
        await page.select_option("#f-frequency", "monthly")
        await page.fill("#f-day", "1")
        await page.fill("#f-at_time", "07:30")
        await page.fill("#f-time_zone", "Asia/Ho_Chi_Minh")
        await page.select_option("#f-language", "fr")
        await page.fill("#f-recipient_emails", "vanphong@nlv.example")
        await page.click("button:has-text('Subscribe')")
        listing = page.locator("h2:has-text('Subscriptions') + table")
        await expect(listing).to_contain_text("vanphong@nlv.example")
        await expect(listing).to_contain_text("Monthly, on day 1 at 07:30")
        # And one now, without waiting for the first of the month: the page says it is on its way.
        await listing.locator("tr", has_text="vanphong@nlv.example").locator("button:has-text('Send me one now')").click()
        await expect(page.locator("#sent-now")).to_contain_text("is being made now")
        await expect(page.locator("#archive + table")).to_contain_text("portfolio")
        await browser.close()


async def test_a_director_makes_the_report_of_the_seed_visits_month_from_the_page(served_app, chromium_path):
    """November 2025, the month of the seed visit, chosen on the page (it was out of the list's reach), then a range."""
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await sign_in(page, served_app, "director")
        await page.goto(f"{served_app}/reports")
        await page.select_option("#f-kind", "portfolio")
        await page.fill("#f-period_month", "2025-11")
        await page.click("button:has-text('Make the report')")
        await expect(page.locator("h1")).to_contain_text("November 2025")
        await page.goto(f"{served_app}/reports")
        await page.fill("#f-period_from", "2025-11-26")  # typing a date chooses "From … to …"
        await page.fill("#f-period_to", "2025-11-29")
        await page.click("button:has-text('Make the report')")
        await expect(page.locator("h1")).to_contain_text("26–29 Nov 2025")
        await browser.close()


async def test_a_records_pdf_is_one_click_from_its_page(served_app, chromium_path):
    """The visit summary, the agreement dossier and the partner dossier from their records' pages: one click, the
    progress shown while it renders, then the PDF to download — the visit's, in the reader's language."""
    from tests.cooperation.test_reports import pdf_text

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await sign_in(page, served_app, "coordinator")
        await page.click("nav >> text=Visits")
        await page.click("text=Working visit of National Library of China experts")
        title = (await page.locator("h1").inner_text()).strip()
        await page.click("#pdf-visit button")
        await expect(page.locator("#download")).to_be_visible(timeout=60_000)
        async with page.expect_download() as downloading:
            await page.click("#download")
        pdf = await asyncio.to_thread(Path(await (await downloading.value).path()).read_bytes)
        assert title in " ".join(pdf_text(pdf).split())
        await page.click("text=Back to the record")
        await expect(page.locator("h1")).to_have_text(title)
        records = (("/agreements", "NLV-NLC-2025", "#pdf-agreement button"), ("/institutions", "NLC", "#pdf-partner button"))
        for path, link, button in records:
            await page.goto(served_app + path)
            await page.locator("main").get_by_role("link", name=link, exact=True).first.click()
            await page.click(button)
            await expect(page.locator("#download")).to_be_visible(timeout=60_000)
        await browser.close()


async def test_a_partner_librarian_imports_progress_as_csv(served_app, chromium_path, tmp_path):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await sign_in(page, served_app, "partner.nlc")
        await page.click("nav >> text=Digitization")
        await page.click("text=Smart Service Platform for Chinese Ancient Books")
        sheet = tmp_path / "progress.csv"
        # A mid-month figure between two of the demo's: the totals other tests read stay the article's.
        sheet.write_text("institution,as_of,titles,volumes,images,correction_note\nNLC,2025-11-15,12800,137500,,\n", encoding="utf-8")
        form = page.locator("form[action$='/progress/csv']")
        await form.locator("input[type=file]").set_input_files(str(sheet))
        await form.locator("button:has-text('Import')").click()
        await expect(page.locator("body")).to_contain_text("137,500")  # among the latest reports, reported through the page
        await browser.close()
