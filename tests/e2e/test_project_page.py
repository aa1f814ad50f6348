"""The seed project (../shared/seed) as a director finds it: its figures, its chart, what it measures."""

import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.conftest import CHROMIUM_ARGS, sign_in

pytestmark = pytest.mark.e2e


async def test_the_ancient_books_platform_page(served_app, chromium_path):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await sign_in(page, served_app, "director")
        await page.click("nav >> text=Digitization")
        await page.click("text=Smart Service Platform for Chinese Ancient Books")
        await expect(page.locator("h1")).to_contain_text("中华古籍智慧化服务平台")
        await expect(page.locator("#consortium")).to_have_text("180 institutions in 31 provinces and municipalities")
        await expect(page.locator("#total")).to_contain_text("13,000 titles")
        await expect(page.locator("#total")).to_contain_text("140,000 volumes")
        chart = page.locator("#chart svg.pygal-chart")
        await expect(chart).to_be_visible()
        box = await chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 150
        assert await page.locator("#chart svg .line").count() >= 2  # progress and the target
        await page.click("#overview >> text=NLV-NLC-2025")
        await expect(page.locator("body")).to_contain_text("computed: Project “Smart Service Platform for Chinese Ancient Books”")
        await browser.close()
