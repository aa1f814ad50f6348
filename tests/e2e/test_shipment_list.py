"""A coordinator records a parcel received from the National Diet Library and its list from a spreadsheet: a wrong
line is named and nothing is imported; the corrected file goes in whole, and the balance counts it."""

import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.conftest import CHROMIUM_ARGS, sign_in

pytestmark = pytest.mark.e2e

WRONG = (
    "title;identifier;category;copies;value;currency\n"
    "日本全国書誌 2025;978-4-87582-000-6;official;30;2500;JPY\n"
    "国立国会図書館月報;9784875820018;serial;12;;\n"
)


def corrected() -> str:
    return WRONG.replace("9784875820018", "9784875820017").replace("978-4-87582-000-6", "978-4-87582-000-0")


async def test_a_shipment_list_from_a_spreadsheet(served_app, chromium_path):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await sign_in(page, served_app, "coordinator")
        await page.click("nav >> text=Publications")
        await page.click("#arrangements >> text=NDL")
        await page.click("text=Record a shipment")
        await page.select_option("#f-direction", "received")
        await page.fill("#f-shipped_on", "2026-11-20")
        await page.fill("#f-carrier", "Japan Post")
        await page.fill("#f-item-0-title", "National Diet Library Newsletter, no. 250")
        await page.select_option("#f-item-0-category", label="Serial issue")
        await page.click("button:has-text('Save')")
        await expect(page.locator("h1")).to_have_text("Publications received from National Diet Library")
        await expect(page.locator("dl.facts")).to_contain_text("1 item, 1 title")
        # The list from a spreadsheet: line 2 has a wrong check digit, line 3 too: both named, nothing imported.
        await page.set_input_files(
            "#csv-import input[type=file]", files=[{"name": "ndl.csv", "mimeType": "text/csv", "buffer": WRONG.encode()}]
        )
        await page.click("#csv-import button:has-text('Import')")
        alert = page.locator("[role=alert]")
        await expect(alert).to_contain_text("line 2")
        await expect(alert).to_contain_text("line 3")
        await expect(alert).to_contain_text("is not a valid ISBN or ISSN")
        await expect(page.locator("dl.facts")).to_contain_text("1 item, 1 title")
        await page.set_input_files(
            "#csv-import input[type=file]", files=[{"name": "ndl.csv", "mimeType": "text/csv", "buffer": corrected().encode()}]
        )
        await page.click("#csv-import button:has-text('Import')")
        await expect(page.locator("dl.facts")).to_contain_text("43 items, 3 titles")
        await expect(page.locator("#items tbody")).to_contain_text("978-4-87582-000-0")
        await expect(page.locator("#items tbody")).to_contain_text("¥2,500")
        # The ledger counts them for 2026.
        await page.click("text=Back to the arrangement")
        await expect(page.locator("#balance")).to_contain_text("received: 43 items")
        await browser.close()
