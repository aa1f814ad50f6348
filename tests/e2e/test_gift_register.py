"""A coordinator records where a gift went, from the visit it was received at, and finds it in the register."""

import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.conftest import CHROMIUM_ARGS, sign_in

pytestmark = pytest.mark.e2e


async def test_a_gifts_disposition_from_the_visit_to_the_register(served_app, chromium_path):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await sign_in(page, served_app, "coordinator")
        await page.goto(f"{served_app}/visits")
        await page.click("text=Working visit of National Library of China experts")
        await page.click("text=Commemorative gifts from the Director of the National Library of Vietnam")
        await expect(page.locator("h1")).to_have_text("Commemorative gifts from the Director of the National Library of Vietnam")
        # The gift given left the library; the one received in return is linked from it.
        await page.click("dd >> text=Commemorative gifts from the National Library of China experts")
        await expect(page.locator("#disposition")).to_contain_text("On display")
        await page.select_option("#f-disposition", label="Transferred")
        await page.fill("#f-disposition_on", "2026-11-20")
        await page.fill("#f-custodian", "Bảo tàng Văn học Việt Nam")
        await page.fill("#f-location", "Kho hiện vật, tầng 2")
        await page.fill("#f-disposition_note", "Quyết định số 45/QĐ-TVQG")
        await page.click("#disposition >> text=Save where it is")
        where = page.locator("#disposition p").first
        await expect(where).to_contain_text(
            "Transferred · since 20 November 2026 · in the care of Bảo tàng Văn học Việt Nam · Kho hiện vật, tầng 2"
        )
        await expect(page.locator("#disposition")).to_contain_text("Quyết định số 45/QĐ-TVQG")
        await expect(page.locator("#history")).to_contain_text("transferred")  # the audit trail says who decided, when
        # The register, filtered by what became of the gifts, lists it.
        await page.click("text=Back to the register")
        await page.select_option("select[name=disposition]", label="Transferred")
        await page.click("button:has-text('Filter')")
        rows = page.locator("tbody tr")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("Commemorative gifts from the National Library of China experts")
        await expect(rows.first).to_contain_text("NLC → NLV")
        await browser.close()
