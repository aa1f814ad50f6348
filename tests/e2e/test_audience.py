"""Who sees what, clicked as the people who do it: a coordinator writes a department-only comment and a shared one on
the seed visit and opens "View as NLC" to see only the shared one; NLC's librarian uploads a photo, absent from the
portal until the coordinator captions and publishes it; a new agreement stays invisible to NLC until it is shared."""

import io

import pytest
from PIL import Image
from playwright.async_api import async_playwright, expect

from tests.e2e.conftest import CHROMIUM_ARGS, sign_in

pytestmark = pytest.mark.e2e
SEED_VISIT = "Working visit of National Library of China experts"


async def _seed_visit_url(page, base: str) -> str:
    await page.goto(f"{base}/visits")
    await page.click(f"text={SEED_VISIT}")
    await expect(page.locator("h1")).to_contain_text(SEED_VISIT)
    return page.url.split("#")[0].split("?")[0]


async def test_a_comment_a_photo_and_an_agreement_each_reach_only_their_audience(served_app, chromium_path, tmp_path):
    photo = tmp_path / "welcome.png"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 40, 40)).save(buffer, format="PNG")
    photo.write_bytes(buffer.getvalue())
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        coordinator = await (await browser.new_context()).new_page()
        partner = await (await browser.new_context()).new_page()
        visitor = await (await browser.new_context()).new_page()
        await sign_in(coordinator, served_app, "coordinator")
        visit_url = await _seed_visit_url(coordinator, served_app)

        # Two comments: the first as the form offers it (department only), the second shared with NLC.
        form = coordinator.locator("#comments form")
        await expect(form.locator("input[name=audience][value=department]")).to_be_checked()
        await form.locator("textarea[name=body]").fill("INTERNAL NOTE: gift budget exceeded by 2 million VND")
        await form.locator("button[type=submit]").click()
        await coordinator.locator("#comments textarea[name=body]").fill("Cảm ơn các chuyên gia NLC · 感谢国家图书馆专家")
        await coordinator.locator("#comments label", has_text="NLV staff and NLC · National Library of China").click()
        await coordinator.locator("#comments form button[type=submit]").last.click()
        comments = coordinator.locator("#comments")
        await expect(comments.locator(".row-line", has_text="INTERNAL NOTE")).to_contain_text("Department only")
        await expect(comments.locator(".row-line", has_text="Cảm ơn")).to_contain_text("Shared with NLC")

        # View as NLC: the banner, the shared comment, not the internal one; a write is refused.
        await coordinator.click("button:has-text('View as NLC')")
        await expect(coordinator.locator("#view-as-banner")).to_contain_text("You are viewing as NLC · National Library of China")
        await expect(coordinator.locator("#comments")).to_contain_text("Cảm ơn các chuyên gia NLC")
        await expect(coordinator.locator("#comments")).not_to_contain_text("INTERNAL NOTE")
        await coordinator.click("#view-as-banner button")
        await expect(coordinator.locator("#view-as-banner")).to_have_count(0)
        await expect(coordinator.locator("#comments")).to_contain_text("INTERNAL NOTE")

        # NLC's librarian uploads a photo to the public visit: seen by NLC and the department, not by the public.
        await sign_in(partner, served_app, "partner.nlc")
        await partner.goto(visit_url)
        await expect(partner.locator("#comments")).not_to_contain_text("INTERNAL NOTE")
        await expect(partner.locator("#photo-audience")).to_contain_text("Seen by NLV staff and NLC · National Library of China")
        await partner.set_input_files("#photo-files", str(photo))
        await partner.click("#photos form.photo-upload button[type=submit]")
        await expect(partner.locator("#photos figure")).to_have_count(1)
        await expect(partner.locator("#photos figure")).to_contain_text("Shared with NLC")
        await visitor.goto(f"{served_app}/portal")
        await visitor.click(f"#visits >> text={SEED_VISIT}")
        await expect(visitor.locator("article")).to_contain_text("Rong Jie")
        await expect(visitor.locator("main #photos figure")).to_have_count(0)

        # The coordinator finds it waiting, uncaptioned: captions it, then publishes it from the list.
        await coordinator.goto(f"{served_app}/publication")
        waiting = coordinator.locator("#waiting-photo")
        await expect(waiting).to_contain_text("A photo needs its caption before it is published")
        await coordinator.goto(visit_url)  # "Order and captions" opens by itself while a photo has no caption
        await coordinator.fill("#photo-0-caption", "Đoàn NLC đến Thư viện Quốc gia Việt Nam · 国家图书馆代表团抵达")
        await coordinator.click("#arrange button:has-text('Save order and captions')")
        await coordinator.goto(f"{served_app}/publication")
        await expect(waiting).not_to_contain_text("A photo needs its caption")
        await waiting.locator("input[type=checkbox]").first.check()
        await waiting.locator("button:has-text('Publish the chosen ones')").click()
        await expect(coordinator.locator("#waiting-photo")).to_have_count(0)
        await visitor.reload()
        await expect(visitor.locator("main #photos figure")).to_have_count(1)
        await expect(visitor.locator("main #photos figure")).to_contain_text("Đoàn NLC đến Thư viện Quốc gia Việt Nam")

        # A new agreement is the department's own until shared, and sharing says who gains access first.
        await coordinator.goto(f"{served_app}/agreements/new")
        await coordinator.fill("#f-reference", "NLV-NLC-PUB")
        await coordinator.fill("#f-title", "Exchange of publications with NLC")
        await coordinator.select_option("select[name='party-1-institution_id']", label="NLC · National Library of China")
        await coordinator.click("button:has-text('Save')")
        await expect(coordinator.locator("#sharing")).to_contain_text("Department only")
        agreement_url = coordinator.url
        await partner.goto(f"{served_app}/agreements")
        await expect(partner.locator("main")).not_to_contain_text("NLV-NLC-PUB")
        answer = await partner.goto(agreement_url)
        assert answer is not None and answer.status == 404
        await coordinator.click("text=Share with the partners…")
        await expect(coordinator.locator("#gaining")).to_contain_text("NLC · National Library of China")
        await expect(coordinator.locator("#gaining")).to_contain_text("partner.nlc@demo.libcoop.test")
        await coordinator.click("button:has-text('Share it with them')")
        await expect(coordinator.locator("#sharing")).to_contain_text("Shared with NLC")
        await partner.goto(agreement_url)
        await expect(partner.locator("h1")).to_contain_text("NLV-NLC-PUB")

        # A department-only comment shared later from its own label; NLC's librarian then reads it.
        await coordinator.goto(visit_url)
        internal = coordinator.locator("#comments .row-line", has_text="INTERNAL NOTE")
        await internal.locator("button:has-text('Share with the partners')").click()
        await expect(coordinator.locator("#comments .row-line", has_text="INTERNAL NOTE")).to_contain_text("Shared with NLC")
        await partner.goto(visit_url)
        await expect(partner.locator("#comments")).to_contain_text("INTERNAL NOTE")
        await browser.close()
