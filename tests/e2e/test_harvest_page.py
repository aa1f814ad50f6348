"""The National Library of Vietnam has not reported its Hán Nôm contribution to the ancient books platform yet (the
demo's story): its coordinator names the library's IIIF Change Discovery stream (served on loopback from fixtures) on
the project's page, harvests it, and reads the progress it recorded."""

from collections.abc import Iterator

import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.conftest import CHROMIUM_ARGS, demo_settings, serving, sign_in
from tests.programs.iiif_fixtures import Stream, serving_stream

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def harvesting_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo world on its own instance (its figures change here), allowed to harvest from loopback."""
    settings = demo_settings(tmp_path_factory.mktemp("harvest"), "harvest")
    with serving(settings) as base:
        yield base


@pytest.fixture
def stream() -> Iterator[Stream]:
    with serving_stream() as served:
        for number, canvases in ((1, 120), (2, 96), (3, 88)):
            served.manifest(f"han-nom-{number}", canvases)
        a = served.activity
        served.pages(
            [a("Create", "han-nom-1", "2026-11-02T02:00:00Z"), a("Create", "han-nom-2", "2026-11-02T02:05:00Z")],
            [a("Create", "han-nom-3", "2026-11-09T03:00:00Z"), a("Delete", "han-nom-2", "2026-11-10T04:00:00Z")],
        )
        yield served


async def test_the_coordinator_names_nlvs_stream_and_harvests_it(harvesting_app, chromium_path, stream):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await sign_in(page, harvesting_app, "coordinator")
        await page.goto(f"{harvesting_app}/projects")
        await page.click("text=Smart Service Platform for Chinese Ancient Books")
        harvest = page.locator("#harvest")
        await harvest.locator("#h-institution_id").select_option(label="NLV")
        await harvest.locator("#h-endpoint").fill(stream.url("/activity/all-changes"))
        await harvest.locator("#h-manifests_as").select_option(label="Volumes")
        await harvest.locator("#h-count_canvases").check()
        await harvest.locator("button:has-text('Save the endpoint')").click()
        row = page.locator("#harvest tbody tr", has_text="NLV")
        await expect(row).to_contain_text("not harvested yet")
        await row.locator("button:has-text('Harvest now')").click()
        row = page.locator("#harvest tbody tr", has_text="NLV")
        await expect(row).to_contain_text("up to date")
        await expect(row).to_contain_text("2 pages read · 4 activities")
        await expect(row).to_contain_text("2 manifests")
        await expect(row).to_contain_text("208 images")  # 120 + 88: the manifest withdrawn no longer counts
        # The participants' table and the latest reports show NLV's first figures, recorded by the harvest.
        await expect(page.locator("#progress table").last).to_contain_text("IIIF harvest (harvest")
        participants = page.locator("#participants tr", has_text="NLV")
        await expect(participants).to_contain_text("2 volumes")
        await browser.close()
