"""A visitor who never signs in finds the library's cooperation from the sign-in page: the public portal, the seed
visit's news item, the partner countries; and reads it in Vietnamese."""

import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.e2e


async def test_a_visitor_reads_the_public_portal(served_app, chromium_path):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.goto(f"{served_app}/login")
        await page.click("text=Our international cooperation: the public portal")
        await expect(page.locator("h1")).to_have_text("National Library of Vietnam: international cooperation")
        await expect(page.locator("#partners img.portal-map")).to_have_attribute("alt", "World map of the partner countries: China")
        await page.click("#visits >> text=Working visit of National Library of China experts")
        article = page.locator("article")
        await expect(article).to_contain_text("26–29 Nov 2025, Hà Nội")
        await expect(article).to_contain_text("Rong Jie")
        await expect(article).to_contain_text("NLV-NLC-2025")  # the agreement it implements is public too
        await page.click("nav >> text=Partners")
        await expect(page.locator("tbody")).to_contain_text("National Library of China")
        await expect(page.locator("tbody")).not_to_contain_text("National Diet Library")  # its agreement is not public
        await page.select_option("#language-switch", "vi")
        await page.click("footer button")
        await expect(page.locator("h1")).to_have_text("Các cơ quan đối tác")
        await browser.close()
