"""Day one in Chromium: an empty LibCoop on a loopback address, from /setup to a partner librarian's first
page — the administrator sets it up, invites a coordinator (the link read from a real SMTP sink), the coordinator
registers NLC and records its incoming visit, the administrator invites an NLC librarian, who sees that visit."""

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from playwright.async_api import Page, async_playwright, expect

from tests.cooperation.conftest import Inbox
from tests.e2e.conftest import CHROMIUM_ARGS, _free_port, migrated_settings, print_setup_code, serving

pytestmark = pytest.mark.e2e


@pytest.fixture
def empty_instance(tmp_path: Path) -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()
    smtp_port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    settings = migrated_settings(tmp_path, "fresh", smtp_port=smtp_port, mail_from="LibCoop <libcoop@nlv.example>")
    try:
        with serving(settings) as base:
            yield base, inbox, settings
    finally:
        controller.stop()


async def _link(inbox: Inbox, address: str) -> str:
    for _ in range(50):
        if inbox.to(address):
            break
        await asyncio.sleep(0.1)
    (message,) = inbox.to(address)
    return re.search(r"https?://\S+/invitations/[A-Za-z0-9_-]+", message.get_body(("plain",)).get_content()).group(0)


async def _option(page: Page, select: str, text: str) -> str:
    value = await page.locator(f"{select} option", has_text=text).first.get_attribute("value")
    assert value, f"no option {text!r} in {select}"
    return value


async def _accept(page: Page, link: str, password: str) -> None:
    await page.goto(link)
    await page.fill("#password", password)
    await page.click("button:has-text('Set my password and sign in')")
    await expect(page.locator("header")).to_contain_text("Sign out")


async def test_from_setup_to_a_partner_librarians_first_page(empty_instance, chromium_path):
    base, inbox, settings = empty_instance
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        admin = await (await browser.new_context()).new_page()
        await admin.goto(f"{base}/")  # no administrator yet: the first run comes first
        await expect(admin.locator("h1")).to_have_text("Set up LibCoop")
        await admin.fill("#setup_code", print_setup_code(settings))  # read off the server's terminal
        await admin.fill("#home_code", "NLV")
        await admin.fill("#home_name", "National Library of Vietnam")
        await admin.fill("#home_name_native", "Thư viện Quốc gia Việt Nam")
        await admin.fill("#country", "VN")
        await admin.fill("#admin_name", "Nguyễn Thị Hà")
        await admin.fill("#admin_email", "ha@nlv.gov.vn")
        await admin.fill("#admin_password", "a long admin passphrase")
        await admin.click("button:has-text('Set up and sign in')")
        await expect(admin.locator("header")).to_contain_text("Nguyễn Thị Hà")

        await admin.click("header .who summary")  # the account's menu holds the administration
        await admin.click("header .who-links >> text=Users")
        await admin.fill("#f-name", "Trần Thị Lan")
        await admin.fill("#f-email", "lan@nlv.gov.vn")
        await admin.select_option("#f-role", "coordinator")
        await admin.click("button:has-text('Invite')")
        await expect(admin.locator("#new-link")).to_contain_text("/invitations/")

        coordinator = await (await browser.new_context()).new_page()
        await _accept(coordinator, await _link(inbox, "lan@nlv.gov.vn"), "three words together")
        await coordinator.goto(f"{base}/institutions/new")
        await coordinator.fill("#f-code", "NLC")
        await coordinator.fill("#f-name", "National Library of China")
        await coordinator.fill("#f-name_native", "中国国家图书馆")
        await coordinator.select_option("#f-country", "CN")
        await coordinator.click("button:has-text('Save')")
        await expect(coordinator.locator("h1")).to_contain_text("NLC")
        await coordinator.goto(f"{base}/visits/new")
        await coordinator.fill("#f-title", "Working visit of National Library of China experts")
        await coordinator.select_option("#f-visiting_institution_id", await _option(coordinator, "#f-visiting_institution_id", "NLC"))
        await coordinator.fill("#f-starts_on", "2025-11-26")
        await coordinator.fill("#f-ends_on", "2025-11-29")
        await coordinator.click("button:has-text('Save')")
        await expect(coordinator.locator("h1")).to_contain_text("Working visit of National Library of China experts")
        await expect(coordinator.locator(".actions .badge")).to_have_text("Completed")  # logged after the fact
        # A new visit is the department's own: shared with NLC explicitly, after reading who will gain access.
        await coordinator.click("text=Share with the partners…")
        await expect(coordinator.locator("#gaining")).to_contain_text("NLC · National Library of China")
        await expect(coordinator.locator("#gaining")).to_contain_text("No partner librarian of this institution has an account yet")
        await coordinator.click("button:has-text('Share it with them')")
        await expect(coordinator.locator("#sharing")).to_contain_text("Shared with NLC")

        await admin.goto(f"{base}/admin/users")
        await admin.fill("#f-name", "Luo Chong")
        await admin.fill("#f-email", "luo.chong@nlc.cn")
        await admin.select_option("#f-role", "partner")
        await admin.select_option("#f-institution_id", await _option(admin, "#f-institution_id", "NLC"))
        await admin.click("button:has-text('Invite')")
        await expect(admin.locator("#new-link")).to_be_visible()

        partner = await (await browser.new_context()).new_page()
        await _accept(partner, await _link(inbox, "luo.chong@nlc.cn"), "长城 great wall 2025")
        await partner.click("nav >> text=Visits")
        await expect(partner.locator("main")).to_contain_text("Working visit of National Library of China experts")
        await expect(partner.locator("header")).not_to_contain_text("Users")
        await browser.close()
