"""A coordinator signs in, records an agreement with two parties, and finds it in the list."""

import pytest
from playwright.async_api import async_playwright, expect

from cooperation.demo import DEMO_PASSWORD
from tests.e2e.conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.e2e


async def test_sign_in_create_agreement_and_see_it_listed(served_app, chromium_path, tmp_path):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.goto(f"{served_app}/agreements")
        assert "/login" in page.url  # not signed in: sent to sign in, then back
        await page.fill("#email", "coordinator@demo.libcoop.test")
        await page.fill("#password", DEMO_PASSWORD)
        await page.click("button[type=submit]")
        await expect(page.locator("h1")).to_have_text("Agreements")

        await page.click("text=New agreement")
        await page.fill("#f-reference", "NLV-NDL-2027")
        await page.fill("#f-title", "Hiệp định trao đổi xuất bản phẩm · 出版物交換協定")
        await page.select_option("#f-kind", "exchange_of_publications")
        # The home institution is already the first party; add the partner as the second.
        await page.select_option("select[name='party-1-institution_id']", label="NDL · National Diet Library")
        await page.fill("input[name='party-0-signatory_name']", "Nguyễn Xuân Dũng")
        await page.fill("#f-effective_on", "2027-01-01")
        await page.fill("#f-expires_on", "2031-12-31")
        await page.click("button:has-text('Save')")

        await expect(page.locator("h1")).to_contain_text("NLV-NDL-2027")
        await expect(page.locator("#parties")).to_contain_text("国立国会図書館")
        await expect(page.locator("#parties")).to_contain_text("Nguyễn Xuân Dũng")

        await page.goto(f"{served_app}/agreements")
        row = page.locator("tr", has_text="NLV-NDL-2027")
        await expect(row).to_contain_text("NLV · NDL")
        await expect(row).to_contain_text("Hiệp định trao đổi xuất bản phẩm · 出版物交換協定")

        # Filtering through htmx swaps the table in place.
        await page.fill("input[name=q]", "xuat ban")
        await page.press("input[name=q]", "Enter")
        await expect(page.locator("#agreement-table tbody tr")).to_have_count(1)
        await page.screenshot(path=str(tmp_path / "agreements.png"), full_page=True)
        await browser.close()
