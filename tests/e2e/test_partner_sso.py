"""A partner librarian signs in through her own library's OpenID provider and sees only what it shares."""

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from cooperation.demo import DEMO_PASSWORD
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.sso.conftest import CLIENT_SECRET, require_provider_runtime, start_provider

pytestmark = pytest.mark.e2e


def register_nlc_provider(base: str, issuer: str, client_id: str) -> None:
    """As the demo administrator, over HTTP, the way an administrator's script would."""
    with httpx.Client(base_url=base) as admin:
        admin.get("/login")
        token = admin.cookies["coop_csrf"]
        signed = admin.post("/login", data={"email": "admin@demo.libcoop.test", "password": DEMO_PASSWORD, "_csrf_token": token})
        assert signed.status_code == 303
        institutions = admin.get("/api/v1/institutions?q=NLC").json()["items"]
        nlc = next(i for i in institutions if i["code"] == "NLC")
        response = admin.post(
            "/api/v1/identity-providers",
            headers={"x-csrf-token": admin.cookies["coop_csrf"]},
            json={
                "institution_id": nlc["id"],
                "issuer": issuer,
                "client_id": client_id,
                "client_secret": CLIENT_SECRET,
                "allowed_email_domains": ["nlc.example"],
            },
        )
        assert response.status_code == 201, response.text


async def test_partner_signs_in_with_her_library_account(served_app, chromium_path):
    require_provider_runtime()
    provider = start_provider("NLC", "libcoop-e2e", app_base=served_app)
    try:
        register_nlc_provider(served_app, provider.issuer, provider.client_id)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            page = await browser.new_page()
            await page.goto(f"{served_app}/login")
            await page.click("text=National Library of China")
            # Now at the library's own sign-in service.
            assert page.url.startswith(provider.issuer)
            await page.fill("input[name=login]", "luo.chong")
            await page.fill("input[name=password]", "her-own-password")
            await page.click("button[type=submit]")
            await page.click("button[type=submit]")  # consent to share her identity with LibCoop
            await expect(page.locator("h1")).to_contain_text("Welcome, Luo Chong")
            await page.goto(f"{served_app}/agreements")
            table = page.locator("#agreement-table")
            await expect(table).to_contain_text("NLV-NLC-2025")
            await expect(table).not_to_contain_text("NLV-BNF-2019")
            await expect(table).not_to_contain_text("NLV-NLL-2024")  # internal
            await browser.close()
    finally:
        provider.process.terminate()
        provider.process.wait(timeout=10)
