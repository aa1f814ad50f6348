"""A coordinator logs the seed visit from the pages: people chosen from the register and one added by "Add a host" (htmx),
the overlap with the demo's own record of it shown beside the dates and confirmed there, before saving."""

import io

import pytest
from playwright.async_api import async_playwright, expect
from pypdf import PdfReader

from tests.e2e.conftest import CHROMIUM_ARGS, sign_in

pytestmark = pytest.mark.e2e


async def test_log_the_seed_visit_from_the_pages(served_app, chromium_path):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await sign_in(page, served_app, "coordinator")
        await page.goto(f"{served_app}/visits")
        await page.click("text=Record a visit")
        await page.fill("#f-title", "Chuyến thăm làm việc của chuyên gia Thư viện Quốc gia Trung Quốc")
        await page.select_option("#f-visiting_institution_id", label="NLC · National Library of China")
        await page.fill("#f-starts_on", "2025-11-26")
        await page.fill("#f-ends_on", "2025-11-29")
        await page.fill("#f-city", "Hà Nội")
        await page.fill("#f-theme", "Sản phẩm và dịch vụ thư viện trong môi trường số")
        await page.fill("#f-topics", "smart library, RFID, ancient books")
        # People already in the register are chosen; a third host's row comes from "Add a host" without leaving the page.
        await page.select_option("#f-delegation-0-person_id", label="Rong Jie (NLC)")
        await page.select_option("#f-delegation-1-person_id", label="Luo Chong (NLC)")
        await page.select_option("#f-host-0-person_id", label="Nguyen Xuan Dung · Nguyễn Xuân Dũng (NLV)")
        await page.click("button:has-text('Add a host')")
        await expect(page.locator("#f-host-2-person_id")).to_be_focused()
        await page.fill("#f-host-2-name", "Lê Văn Minh")
        await page.fill("#f-host-2-position", "Interpreter")
        await page.select_option("#f-host-2-role", "interpreter")
        # The demo already records these people in that visit: LibCoop says so beside the dates, before saving.
        await expect(page.locator("#overlaps")).to_contain_text("Rong Jie is also in")
        await page.check("input[name=confirm_overlaps]")
        await page.fill("input[name='agenda-0-day']", "2025-11-27")
        await page.fill("input[name='agenda-0-starts_at']", "09:00")
        await page.fill("input[name='agenda-0-title']", "中华古籍智慧化服务平台")
        await page.fill("#f-outcome-0-text", "Hướng hợp tác mới: mô hình thư viện thông minh")
        await page.fill("#f-gift-0-description", "Quà lưu niệm")
        await page.select_option("#f-gift-1-direction", "received")
        await page.fill("#f-gift-1-description", "纪念品")
        await page.click("button:has-text('Save')")
        summary = page.locator("#summary")
        await expect(summary).to_contain_text("26–29 Nov 2025, Hà Nội")
        await expect(summary).to_contain_text("Rong Jie")
        await expect(summary).to_contain_text("Nguyễn Xuân Dũng")
        await expect(summary).to_contain_text("中华古籍智慧化服务平台")
        await expect(summary).to_contain_text("Quà lưu niệm (given)")
        await expect(summary).to_contain_text("Lê Văn Minh")
        # Printed, the page is the record: the summary and its facts, no menu, form or button.
        printed = PdfReader(io.BytesIO(await page.pdf(format="A4"))).pages
        text = " ".join(p.extract_text() for p in printed)
        assert "Rong Jie" in text and "中华古籍智慧化服务平台" in text
        assert not any(word in text for word in ("Sign out", "Upload", "Add photos", "Edit", "Change")), text[:400]
        await browser.close()
