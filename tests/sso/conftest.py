"""Two real OpenID providers (panva/oidc-provider on Node.js) on localhost, one per partner library.

Each is started once per test session with signing keys generated here, so that tests can also sign
tokens of their own with the provider's key (to check expiry, audience, nonce, ...). The browser side
of the flow is driven with httpx: the provider's own login and consent forms are filled and posted.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from joserfc.jwk import RSAKey

PROVIDER_DIR = Path(__file__).parent / "provider"
APP_BASE = "http://testserver"
CLIENT_SECRET = "libcoop-test-client-secret-0123456789"


@dataclass
class TestProvider:
    code: str
    issuer: str
    client_id: str
    private_jwk: dict[str, Any]
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ACCOUNTS = {
    "luo.chong": {"email": "luo.chong@nlc.example", "email_verified": True, "name": "Luo Chong", "groups": ["cooperation"]},
    "rong.jie": {"email": "rong.jie@nlc.example", "email_verified": False, "name": "Rong Jie", "groups": ["readers"]},
    "claire.martin": {"email": "claire.martin@bnf.example", "email_verified": True, "name": "Claire Martin", "groups": []},
}


def start_provider(code: str, client_id: str, app_base: str = APP_BASE) -> TestProvider:
    """Start one provider whose client `client_id` redirects to `app_base`; the caller stops its process."""
    port = _free_port()
    key = RSAKey.generate_key(2048, parameters={"kid": f"{code.lower()}-key-1", "use": "sig", "alg": "RS256"}, private=True)
    private_jwk = key.as_dict(private=True)
    client = {
        "client_id": client_id,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [f"{app_base}/auth/sso/{code}/callback"],
        "post_logout_redirect_uris": [f"{app_base}/login"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }
    env = {
        **os.environ,
        "OP_PORT": str(port),
        "OP_CLIENTS": json.dumps([client]),
        "OP_JWKS": json.dumps({"keys": [private_jwk]}),
        "OP_ACCOUNTS": json.dumps(ACCOUNTS),
    }
    process = subprocess.Popen(["node", "server.mjs"], cwd=PROVIDER_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                return TestProvider(code=code, issuer=issuer, client_id=client_id, private_jwk=private_jwk, process=process)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the test OpenID provider for {code} did not start")


def require_provider_runtime() -> None:
    if not shutil.which("node") or not (PROVIDER_DIR / "node_modules" / "oidc-provider").exists():
        if os.environ.get("CI"):
            pytest.fail("Node.js and tests/sso/provider/node_modules are needed (.ci/bootstrap --system installs them)", pytrace=False)
        pytest.skip("the test OpenID provider is not installed (cd tests/sso/provider && npm ci)")


@pytest.fixture(scope="session")
def providers() -> Iterator[dict[str, TestProvider]]:
    require_provider_runtime()
    started = {"NLC": start_provider("NLC", "libcoop-at-nlc"), "BNF": start_provider("BNF", "libcoop-at-bnf")}
    yield started
    for provider in started.values():
        provider.process.terminate()
        provider.process.wait(timeout=10)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = dict(attrs)
        if tag == "form":
            self.forms.append({"action": data.get("action") or "", "fields": {}})
        elif tag == "input" and self.forms and data.get("name"):
            self.forms[-1]["fields"][data["name"]] = data.get("value") or ""


async def through_provider(authorization_url: str, login: str) -> str:
    """Play the person at the provider: sign in as `login`, consent, and return the redirect to LibCoop."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
        url = authorization_url
        for _ in range(12):
            response = await browser.get(url)
            while response.status_code in (302, 303):
                location = urljoin(url, response.headers["location"])
                if location.startswith(APP_BASE):
                    return location
                url = location
                response = await browser.get(url)
            parser = _Forms()
            parser.feed(response.text)
            if not parser.forms:
                raise AssertionError(f"no form at the provider: {response.status_code} {response.text[:300]}")
            form = parser.forms[0]
            fields = dict(form["fields"])
            if "login" in fields:
                fields.update(login=login, password="any-password")
            response = await browser.post(urljoin(url, form["action"]), data=fields)
            location = urljoin(url, response.headers.get("location", ""))
            if location.startswith(APP_BASE):
                return location
            url = location
    raise AssertionError("the provider never redirected back to LibCoop")


def callback_path(url: str) -> str:
    return url.removeprefix(APP_BASE)


def replace_param(url: str, name: str, value: str) -> str:
    return re.sub(rf"([?&]){name}=[^&]*", lambda m: f"{m.group(1)}{name}={value}", url)
