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
        # The title in other languages, beside the original.
        await page.click("#translations summary")
        await page.fill("input[name='translation-en-title']", "Agreement on the exchange of publications")
        await page.fill("input[name='translation-zh_Hans-title']", "出版物交换协议")
        await page.click("button:has-text('Save')")

        await expect(page.locator("h1")).to_contain_text("NLV-NDL-2027 · Agreement on the exchange of publications")
        await expect(page.locator("main")).to_contain_text("Original: Hiệp định trao đổi xuất bản phẩm · 出版物交換協定")
        await expect(page.locator("#parties")).to_contain_text("国立国会図書館")
        await expect(page.locator("#parties")).to_contain_text("Nguyễn Xuân Dũng")

        await page.goto(f"{served_app}/agreements")
        row = page.locator("tr", has_text="NLV-NDL-2027")
        await expect(row).to_contain_text("NLV · NDL")
        await expect(row).to_contain_text("Agreement on the exchange of publications")

        # Filtering through htmx swaps the table in place.
        await page.fill("input[name=q]", "xuat ban")
        await page.press("input[name=q]", "Enter")
        await expect(page.locator("#agreement-table tbody tr")).to_have_count(1)
        await page.screenshot(path=str(tmp_path / "agreements.png"), full_page=True)

        # The switcher at the foot of the page: the same list in Chinese, the Chinese title where there is one.
        await page.select_option("#language-switch", "zh_Hans")
        await page.click("footer button")
        await expect(page.locator("h1")).to_have_text("合作协议")
        await expect(page.locator("tr", has_text="NLV-NDL-2027")).to_contain_text("出版物交换协议")
        await expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
        await page.select_option("#language-switch", "en")  # the other browser tests read this account in English
        await page.click("footer button")
        await expect(page.locator("h1")).to_have_text("Agreements")
        await browser.close()
