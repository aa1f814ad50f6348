"""The main flow with the keyboard alone: a coordinator signs in, opens the menu on a phone, records a visit
and reaches its page — Tab, typing, Space and Enter only, each control reached showing where the focus is."""

import pytest
from playwright.async_api import Page, async_playwright, expect

from cooperation.demo import DEMO_PASSWORD
from tests.e2e.conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

_FOCUS = """() => { const e = document.activeElement; if (!e || e === document.body) return null;
  const s = getComputedStyle(e); const label = e.id ? document.querySelector(`label[for="${e.id}"]`) : null;
  const shown = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'
    || (label && getComputedStyle(label).outlineStyle !== 'none')
    || ['date', 'time'].includes(e.type);  // Chromium rings the date's calendar button itself, the input then unfocused
  return {tag: e.tagName.toLowerCase(), id: e.id, text: (e.innerText || e.value || '').trim().slice(0, 40), shown}; }"""


async def tab_to(page: Page, selector: str, limit: int = 60) -> int:
    """Tab until the element is focused; every element passed on the way shows its focus. How many Tabs it took."""
    target = page.locator(selector).first
    for presses in range(1, limit + 1):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(_FOCUS)
        assert focused is None or focused["shown"], f"no visible focus on {focused}"
        if await target.evaluate("e => e === document.activeElement"):
            return presses
    raise AssertionError(f"{selector} not reached in {limit} Tabs")


async def test_record_a_visit_with_the_keyboard_alone(served_app, chromium_path):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")).new_page()
        await page.goto(f"{served_app}/login")
        await tab_to(page, "#email")
        await page.keyboard.type("coordinator@demo.libcoop.test")
        await tab_to(page, "#password")
        await page.keyboard.type(DEMO_PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page.locator("header")).to_contain_text("Menu")

        # On a phone the menu is folded: Space on "Menu" opens it, Tab reaches "Visits".
        await expect(page.locator("header nav")).to_be_hidden()
        await tab_to(page, "#menu-toggle")
        await page.keyboard.press("Space")
        await expect(page.locator("header nav")).to_be_visible()
        await tab_to(page, "header nav a[href='/visits']")
        await page.keyboard.press("Enter")
        await expect(page.locator("h1")).to_contain_text("Delegation visits")
        await tab_to(page, "a[href='/visits/new']")
        await page.keyboard.press("Enter")
        await expect(page.locator("h1")).to_contain_text("Record a visit")

        await tab_to(page, "#f-title")
        await page.keyboard.type("Keyboard visit of the BnF")
        await tab_to(page, "#f-visiting_institution_id")
        await page.keyboard.type("BnF")  # a closed list picks the option its typed letters begin
        await tab_to(page, "#f-starts_on")
        await page.keyboard.type("03162026")
        await tab_to(page, "#f-ends_on")
        await page.keyboard.type("03182026")
        await tab_to(page, "#f-delegation-0-name")
        await page.keyboard.type("Claire Martin")
        await tab_to(page, "button[type=submit]:has-text('Save')", limit=120)
        await page.keyboard.press("Enter")
        await expect(page.locator("h1")).to_contain_text("Keyboard visit of the BnF")
        await expect(page.locator("#summary")).to_contain_text("Claire Martin")
        await browser.close()
