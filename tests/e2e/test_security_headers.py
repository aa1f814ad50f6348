"""The Content-Security-Policy holds in a real browser: the pages people use — a visit with its
photos, a project with its chart, the calendar, commitments with their progress bars, the API reference — draw as
before and the browser reports no refused script or style; another site cannot frame them."""

import pytest
from playwright.async_api import Page, async_playwright, expect

from cooperation.demo import DEMO_PASSWORD
from tests.e2e.conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

COLLECT = """
window.__refused = [];
document.addEventListener('securitypolicyviolation', e => window.__refused.push(
  `${e.violatedDirective} ${e.blockedURI || 'inline'} ${e.sourceFile || ''}:${e.lineNumber || ''}`));
"""


async def _refused(page: Page) -> list[str]:
    return list(await page.evaluate("window.__refused || []"))


async def test_pages_draw_under_the_policy_with_nothing_refused(served_app, chromium_path):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        context = await browser.new_context()
        await context.add_init_script(COLLECT)
        page = await context.new_page()
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)

        login = await page.goto(f"{served_app}/login")
        assert login is not None
        assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
        assert login.headers["x-content-type-options"] == "nosniff" and login.headers["x-frame-options"] == "DENY"
        await page.fill("#email", "coordinator@demo.libcoop.test")
        await page.fill("#password", DEMO_PASSWORD)
        await page.click("button[type=submit]")
        await expect(page.locator("header")).to_contain_text("Sign out")
        refused += await _refused(page)

        await page.click("nav >> text=Digitization")
        await page.click("text=Smart Service Platform for Chinese Ancient Books")
        chart = page.locator("#chart svg.pygal-chart")
        await expect(chart).to_be_visible()
        # The chart's own stylesheet applied (it carries the nonce): the target line is dashed.
        dash = await page.eval_on_selector("#chart svg .series.serie-1 .line", "e => getComputedStyle(e).strokeDasharray")
        assert dash not in ("", "none"), dash
        bar = page.locator("progress.progress").first
        await expect(bar).to_be_visible()
        assert (await bar.bounding_box() or {}).get("width", 0) > 100  # the page's own stylesheet sizes it
        refused += await _refused(page)

        await page.click("#overview >> text=NLV-NLC-2025")
        await expect(page.locator("progress.progress").first).to_be_visible()
        refused += await _refused(page)

        await page.goto(f"{served_app}/visits")
        await page.click("text=Working visit of National Library of China experts >> nth=0")
        await expect(page.locator("h1")).to_contain_text("Working visit")
        refused += await _refused(page)

        await page.goto(f"{served_app}/calendar?month=2025-11")
        cell = page.locator("td.day").first
        await expect(cell).to_be_visible()
        assert (await cell.bounding_box() or {}).get("height", 0) >= 80  # 6rem from the stylesheet
        refused += await _refused(page)

        await page.goto(f"{served_app}/api/v1/schema")
        await expect(page.locator("rapi-doc")).to_be_attached()
        await page.wait_for_function("document.querySelector('rapi-doc')?.shadowRoot?.querySelector('.nav-bar, nav, #the-main-body')")
        refused += await _refused(page)
        await browser.close()
    assert not refused, "\n".join(refused)


async def test_another_site_cannot_frame_a_page(served_app, chromium_path):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.set_content(f'<iframe id="f" src="{served_app}/login" width="600" height="400"></iframe>')
        await page.wait_for_timeout(1000)
        frame = page.frame_locator("#f")
        assert await frame.locator("#email").count() == 0  # refused by frame-ancestors 'none'
        await browser.close()
