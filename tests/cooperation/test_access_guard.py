"""Default deny: every registered route refuses an anonymous request, except the explicit public allowlist."""

import re

import pytest
from litestar.routes import HTTPRoute

from cooperation.auth.middleware import PUBLIC_OPT

# The only routes reachable without signing in. Adding one is a security decision: change it here.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/health/ready"),  # the same check, under the name orchestrators use
    ("GET", "/health/live"),  # answers without touching the database
    ("GET", "/favicon.ico"),  # what browsers and feed readers ask of any site
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/login/demo"),
    ("GET", "/auth/sso/{code:str}"),
    ("GET", "/auth/sso/{code:str}/callback"),
    ("GET", "/calendar/{token:str}/libcoop.ics"),  # the secret in the address is the credential
    ("GET", "/invitations/{token:str}"),  # the one-time secret in the address is the credential
    ("POST", "/invitations/{token:str}"),
    ("GET", "/login/two-factor"),  # the second step of a sign-in whose password was right (its own cookie)
    ("POST", "/login/two-factor"),
    ("GET", "/password/forgot"),  # the same answer whether or not the address has an account
    ("POST", "/password/forgot"),
    ("GET", "/password/reset/{token:str}"),  # the one-time secret in the address is the credential
    ("POST", "/password/reset/{token:str}"),
    ("POST", "/language"),  # the switcher on every page, the sign-in page included
    ("GET", "/setup"),  # first run: 404 once an administrator exists (before, the one-time code printed on the server)
    ("POST", "/setup"),
    # The public portal: 404 unless COOP_PORTAL=on, and then only records marked public (cooperation/portal.py).
    ("GET", "/portal"),
    ("GET", "/portal/partners"),
    ("GET", "/portal/map.svg"),
    ("GET", "/portal/feed.atom"),
    ("GET", "/portal/{section:str}"),
    ("GET", "/portal/{section:str}/{record_id:uuid}"),
    ("GET", "/portal/photos/{photo_id:uuid}"),
    # Another LibCoop instance: its well-known document, and requests each checked by its signature (cooperation/peers).
    ("GET", "/.well-known/libcoop"),
    ("POST", "/federation/pair"),
    ("POST", "/federation/unpair"),
    ("POST", "/federation/ping"),
    ("POST", "/federation/approvals"),  # a partner's instance asks us to approve an agreement
    ("POST", "/federation/approvals/{exchange_id:uuid}/snapshot"),  # it fetches what we asked it to approve
    ("POST", "/federation/approvals/answer"),  # it approves or comments
    ("GET", "/static/{file_path:path}"),
    ("HEAD", "/static/{file_path:path}"),
}
PARAM = re.compile(r"\{(\w+):(\w+)\}")
SAMPLE = {"uuid": "3f2b8c1e-6b1f-4a7e-9d2c-0c7f3e9a1b2c", "str": "agreement", "path": "css/app.css", "int": "1"}


def concrete(path: str) -> str:
    return PARAM.sub(lambda m: SAMPLE[m.group(2)], path)


def all_routes(app):
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods):
                if method == "OPTIONS":
                    continue
                yield method, route.path, handler


async def test_public_routes_are_exactly_the_allowlist(app):
    public = {(method, path) for method, path, handler in all_routes(app) if handler.opt.get(PUBLIC_OPT)}
    assert public == PUBLIC


async def test_every_other_route_refuses_anonymous_requests(app, anonymous):
    checked = 0
    for method, path, handler in all_routes(app):
        if handler.opt.get(PUBLIC_OPT):
            continue
        url = concrete(path)
        headers = {"x-csrf-token": await anonymous.csrf()}
        response = await anonymous.raw.request(method, url, headers=headers, follow_redirects=False)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["content-type"].startswith("application/problem+json")
        else:
            assert response.status_code in (303, 401), (method, path, response.status_code)
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login")
        checked += 1
    assert checked > 40


@pytest.mark.parametrize("path", ["/agreements", "/institutions", "/"])
async def test_pages_send_people_to_sign_in_and_back(anonymous, path):
    response = await anonymous.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


async def test_forged_session_cookie_is_refused(anonymous):
    anonymous.raw.cookies.set("coop_session", "forged-token")
    response = await anonymous.get("/api/v1/agreements")
    assert response.status_code == 401
