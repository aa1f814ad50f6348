"""Every page of the crawler, opened in Chromium: no horizontal scrolling on a phone (390 px) or a laptop (1,280 px),
and no serious or critical WCAG 2.1 AA violation found by axe-core.

The pages are those the crawler reaches (tests/test_crawler.py), one per route pattern: the department's roles
share one visit of each pattern (they see the same templates), partners get their own (they see fewer things,
differently), and the pages a signed-out visitor reaches from the sign-in page come too.
"""

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import BrowserContext, async_playwright

from cooperation import demo
from tests.conftest import Client
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.test_crawler import Crawl, crawl, pattern

pytestmark = pytest.mark.e2e

WIDTHS = (390, 1280)
# The rules of WCAG 2.0 and 2.1, levels A and AA, as axe-core tags them.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DEPARTMENT = ("admin", "coordinator", "director")


async def _crawl_as(base: str, role: str | None) -> tuple[Crawl, httpx.Cookies]:
    async with httpx.AsyncClient(base_url=base) as raw:
        client = Client(raw)
        if role:
            await client.sign_in(f"{role}@{demo.DEMO_DOMAIN}", demo.DEMO_PASSWORD)
            result = await crawl(client, role)
        else:
            result = await crawl(client, "visitor", start="/login")  # where a signed-out visitor lands
        return result, raw.cookies


async def _pages(base: str) -> list[tuple[str | None, str, httpx.Cookies]]:
    """(role, URL, cookies) for each page to open: one per route pattern for the department, its own for a partner."""
    chosen: list[tuple[str | None, str, httpx.Cookies]] = []
    seen: set[str] = set()
    for role in (*DEPARTMENT, "partner.nlc", None):
        result, cookies = await _crawl_as(base, role)
        if role not in DEPARTMENT:
            seen = set()  # a partner's or a visitor's page is theirs even where the path is shared
        for url, status in result.pages.items():
            key = pattern(url)
            if status == 200 and key not in seen and url not in result.files and not url.startswith("/api/"):
                seen.add(key)
                chosen.append((role, url, cookies))
    return chosen


async def _open(context: BrowserContext, base: str, url: str):
    page = await context.new_page()
    response = await page.goto(f"{base}{url}", wait_until="load")
    return page, response


async def test_every_page_fits_a_phone_and_a_laptop_and_passes_axe(served_app, chromium_path):
    pages = await _pages(served_app)
    assert len(pages) >= 60, f"only {len(pages)} pages to open"
    axe = Axe()
    too_wide: list[str] = []
    violations: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        contexts: dict[str | None, BrowserContext] = {}
        try:
            for role, url, cookies in pages:
                if role not in contexts:
                    context = await browser.new_context(viewport={"width": WIDTHS[-1], "height": 900}, bypass_csp=True)
                    await context.add_cookies([{"name": c.name, "value": c.value or "", "url": served_app} for c in cookies.jar])
                    contexts[role] = context
                page, response = await _open(contexts[role], served_app, url)
                if response is None or response.status != 200 or "text/html" not in (response.headers.get("content-type") or ""):
                    await page.close()
                    continue
                label = f"{role or 'visitor'} {pattern(url)}"
                for width in WIDTHS:
                    await page.set_viewport_size({"width": width, "height": 900})
                    overflow = await page.evaluate(
                        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
                        " [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right >"
                        " document.documentElement.clientWidth + 1 && getComputedStyle(e).position !== 'absolute')"
                        ".slice(0, 3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +"
                        " (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''))]"
                    )
                    scroll, client, culprits = overflow
                    if scroll > client:
                        too_wide.append(f"{label} at {width} px: {scroll} px wide ({', '.join(culprits)})")
                results = await axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
                for violation in results.response["violations"]:
                    if violation["impact"] in ("serious", "critical"):
                        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
                        violations.append(f"{label}: {violation['id']} ({violation['impact']}) at {targets}")
                await page.close()
        finally:
            await browser.close()
    problems = [f"wider than the screen: {p}" for p in too_wide] + [f"axe-core: {v}" for v in violations]
    assert not problems, f"{len(pages)} pages opened; WCAG 2.1 AA rules, serious or critical violations:\n" + "\n".join(problems)
