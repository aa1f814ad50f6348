"""The administrator puts the library's logo on its reports from the home institution's page, as a person does."""

import io

import pytest
from PIL import Image
from playwright.async_api import async_playwright, expect

from tests.e2e.conftest import CHROMIUM_ARGS, sign_in

pytestmark = pytest.mark.e2e


async def test_the_administrator_uploads_the_logo_on_reports(served_app, chromium_path, tmp_path):
    logo = tmp_path / "logo-tvqg.png"
    out = io.BytesIO()
    Image.new("RGB", (240, 96), "darkred").save(out, format="PNG")
    logo.write_bytes(out.getvalue())
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await sign_in(page, served_app, "admin")
        await page.goto(f"{served_app}/institutions")
        await page.click("a:has-text('NLV')")
        card = page.locator("#logo")
        await expect(card).to_contain_text("Logo on reports")
        await card.locator("input[type=file]").set_input_files(str(logo))
        await card.locator("button:has-text('Upload the logo')").click()
        await expect(page.locator("#logo img.report-logo")).to_be_visible()
        # A text file named as an image is refused, and the page says why.
        fake = tmp_path / "logo.png"
        fake.write_text("not an image")
        await page.locator("#logo input[type=file]").set_input_files(str(fake))
        await page.locator("#logo button:has-text('Upload the logo')").click()
        await expect(page.locator("main")).to_contain_text("a logo is a PNG or JPEG image")
        await page.click("text=Go back")
        await page.locator("#logo button:has-text('Remove the logo')").click()
        await expect(page.locator("#logo img.report-logo")).to_have_count(0)
        await browser.close()
