"""The shell: health, the rendered API reference, friendly error pages, problem+json, the dashboard."""

from datetime import date, timedelta

from tests.agreements.helpers import agreement_payload


async def test_health_is_public(anonymous):
    response = await anonymous.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_openapi_documents_the_api_and_the_reference_renders_offline(client_for, world):
    coordinator = await client_for("coordinator")
    schema = (await coordinator.get("/api/v1/schema/openapi.json")).json()
    for path in (
        "/api/v1/agreements",
        "/api/v1/agreements/{agreement_id}/transition",
        "/api/v1/institutions",
        "/api/v1/people",
        "/api/v1/attachments/{owner_type}/{owner_id}",
    ):
        assert path in schema["paths"], path
    assert not any(path.startswith("/agreements") for path in schema["paths"])  # pages are not API
    reference = await coordinator.get("/api/v1/schema")
    assert reference.status_code == 200
    assert "/static/vendor/rapidoc-min.js" in reference.text  # no CDN: works on a closed network
    assert (await coordinator.get("/static/vendor/rapidoc-min.js")).status_code == 200
    assert 'href="/"' in reference.text and "Back to LibCoop" in reference.text  # a way back to the app


async def test_the_openapi_document_is_the_api_only_and_says_everything(client_for, world):
    """Pages appeared as operations (LoginPage, PageAdd…), uploads had no request body, docstrings were unused, and
    no 4xx answer was documented."""
    coordinator = await client_for("coordinator")
    schema = (await coordinator.get("/api/v1/schema/openapi.json")).json()
    assert all(path.startswith("/api/v1/") for path in schema["paths"]), [p for p in schema["paths"] if not p.startswith("/api/")]
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items() if isinstance(op, dict)]
    assert len(operations) > 60
    for path, method, op in operations:
        assert op.get("description"), f"{method} {path} has no description"
        for status in ("401", "404"):
            assert "application/problem+json" in op["responses"][status]["content"], f"{method} {path} {status}"
    uploads = {
        ("/api/v1/visits/{visit_id}/photos", "post"): {"file", "caption", "audience"},
        ("/api/v1/attachments/{owner_type}/{owner_id}", "post"): {"file", "title", "language", "audience"},
        ("/api/v1/projects/{project_id}/progress/csv", "post"): {"file"},
    }
    for (path, method), fields in uploads.items():
        body = schema["paths"][path][method]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert set(body["properties"]) == fields and body["properties"]["file"]["format"] == "binary"
    assert "text/csv" in schema["paths"]["/api/v1/projects/{project_id}/progress/csv"]["post"]["requestBody"]["content"]
    problem = schema["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem["properties"])


async def test_json_bodies_are_checked_strictly(client_for, world):
    """`{"enabled": 0}` was accepted as a boolean: JSON has booleans, and a number is not one."""
    admin = await client_for("admin")
    coordinator = await client_for("coordinator")
    wrong = await admin.api("POST", f"/api/v1/identity-providers/{world.nlc}/enabled", json={"enabled": 0})
    assert wrong.status_code == 400 and wrong.json()["errors"] == {"enabled": "Expected `bool`, got `int`"}
    typed = await coordinator.api("POST", "/api/v1/agreements", json={**agreement_payload([world.home, world.nlc]), "auto_renew": 1})
    assert typed.status_code == 400 and "auto_renew" in typed.json()["errors"]
    assert "Expected `bool`, got `int`" in typed.json()["errors"]["auto_renew"]
    number = await coordinator.api(
        "POST", "/api/v1/agreements", json={**agreement_payload([world.home, world.nlc]), "notice_period_days": "90"}
    )
    assert number.status_code == 400 and "notice_period_days" in number.json()["errors"]
    fine = await coordinator.api("POST", "/api/v1/agreements", json={**agreement_payload([world.home, world.nlc]), "auto_renew": False})
    assert fine.status_code == 201, fine.text


async def test_errors_are_pages_for_people_and_problems_for_programs(client_for, world):
    coordinator = await client_for("coordinator")
    missing = "/agreements/00000000-0000-4000-8000-000000000000"
    page = await coordinator.get(missing)
    assert page.status_code == 404 and "text/html" in page.headers["content-type"] and "No such agreement" in page.text
    api = await coordinator.api("GET", "/api/v1" + missing)
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    assert api.json()["detail"] == "No such agreement."
    bad = await coordinator.api("GET", "/api/v1/agreements?view=sideways")
    assert bad.status_code == 400 and "view" in bad.json()["errors"]


async def test_dashboard_shows_what_expires_soon_to_each_role(client_for, world):
    coordinator = await client_for("coordinator")
    soon = (date.today() + timedelta(days=30)).isoformat()
    for reference, parties, confidentiality in (
        ("SOON-NLC", [world.home, world.nlc], "parties"),
        ("SOON-BNF", [world.home, world.bnf], "internal"),
    ):
        payload = agreement_payload(
            parties,
            reference=reference,
            signed=date(2025, 1, 1),
            effective_on="2025-01-01",
            expires_on=soon,
            confidentiality=confidentiality,
        )
        created = (await coordinator.api("POST", "/api/v1/agreements", json=payload)).json()
        for version, target in enumerate(("negotiating", "signed", "in_force"), start=1):
            assert (
                await coordinator.api("POST", f"/api/v1/agreements/{created['id']}/transition", json={"to": target, "version": version})
            ).status_code == 200
    home = await coordinator.get("/")
    assert "SOON-NLC" in home.text and "SOON-BNF" in home.text
    partner = await client_for("partner_a")
    partner_home = await partner.get("/")
    assert "SOON-NLC" in partner_home.text and "SOON-BNF" not in partner_home.text


async def test_control_characters_are_refused_at_the_edge(client_for, world, anonymous):
    """A NUL in a login e-mail, a search, a comment, a person's name or an SSO address answered 500 on PostgreSQL."""
    coordinator = await client_for("coordinator")
    token = await anonymous.csrf()
    login = await anonymous.raw.post("/login", data={"email": "a\x00@x.org", "password": "x", "_csrf_token": token})
    assert login.status_code == 400 and "email" in login.text and "U+0000" in login.text
    search = await coordinator.get("/agreements?q=th%00u")
    assert search.status_code == 400 and "U+0000" in search.text
    api_search = await coordinator.api("GET", "/api/v1/people?q=a%01b")
    assert api_search.status_code == 400 and api_search.json()["errors"] == {"q": "contains a control character (U+0001)"}
    person = await coordinator.api("POST", "/api/v1/people", json={"name": "Rong\x00Jie", "institution_id": str(world.nlc)})
    assert person.status_code == 400 and person.json()["errors"] == {"name": "contains a control character (U+0000)"}
    nested = await coordinator.api(
        "POST", "/api/v1/agreements", json={**agreement_payload([world.home, world.nlc]), "scope_tags": ["ok", "bad\x1b"]}
    )
    assert nested.status_code == 400 and "scope_tags[1]" in nested.json()["errors"]
    sso = await anonymous.get("/auth/sso/N%00LC")
    assert sso.status_code == 400
    fine = await coordinator.api(
        "POST", "/api/v1/people", json={"name": "Rong Jie", "institution_id": str(world.nlc), "position": "Line one\nline two\tand tab"}
    )
    assert fine.status_code == 201, fine.text  # tab and newline are text


async def test_health_says_when_the_database_is_down(tmp_path):
    """/health answered an HTML 500 while the database was down: now 503 with JSON naming it, quickly; and a liveness
    check that does not depend on the database."""
    import time

    from cooperation.app import create_app
    from cooperation.settings import Settings
    from tests.conftest import http_client

    down = create_app(
        Settings(
            environment="test",
            secret_key="test-secret-" + "x" * 40,
            database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nothing",  # nothing listens there
            data_dir=tmp_path,
            log_level="ERROR",
        )
    )
    try:
        async with http_client(down) as raw:
            started = time.monotonic()
            ready = await raw.get("/health/ready")
            assert time.monotonic() - started < 5
            assert ready.status_code == 503 and ready.json() == {"status": "unavailable", "database": "unreachable"}
            assert ready.headers["retry-after"] == "5"
            assert (await raw.get("/health")).status_code == 503
            assert (await raw.get("/health/live")).json() == {"status": "ok"}
            # Any other request that needs the database: a 503 to retry, quickly, in the form the caller reads.
            started = time.monotonic()
            api = await raw.get("/api/v1/agreements", headers={"Authorization": "Bearer lcp_abcdefghijklmnop"})
            raw.cookies.set("coop_session", "x" * 40)
            page = await raw.get("/agreements")
            assert time.monotonic() - started < 12
            assert api.status_code == 503 and api.headers["content-type"].startswith("application/problem+json")
            assert api.headers["retry-after"] == "5" and "try again" in api.json()["detail"]
            assert page.status_code == 503 and "not answering" in page.text
    finally:
        down.state.reports.close()
        await down.state.engine.dispose()


async def test_every_answer_carries_the_security_headers(client_for, world, anonymous):
    coordinator = await client_for("coordinator")
    for response in [
        await anonymous.get("/login"),
        await anonymous.get("/no/such/page"),
        await coordinator.get("/agreements"),
        await coordinator.api("GET", "/api/v1/agreements"),
        await coordinator.get("/static/css/app.css"),
    ]:
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in response.headers  # not in development or tests: no HTTPS there
    reference = await coordinator.get("/api/v1/schema")
    assert "style-src 'self' 'unsafe-inline'" in reference.headers["content-security-policy"]
    assert "cdn.jsdelivr" not in reference.text and 'load-fonts="false"' in reference.text


async def test_production_sends_hsts(tmp_path):
    from cooperation.headers import security_headers

    hook = security_headers(hsts=True, reference_path="/api/v1/schema")
    message = {"type": "http.response.start", "status": 200, "headers": []}
    await hook(message, {"type": "http", "path": "/", "state": {}})
    assert (b"strict-transport-security", b"max-age=31536000; includeSubDomains") in message["headers"]


async def test_the_language_switch_works_on_a_page_not_found(client_for):
    """An unknown address is answered before any route, so no middleware gave the page its form token: the switcher
    takes it from the cookie, and switching works there too."""
    import re

    coordinator = await client_for("coordinator")
    await coordinator.get("/")  # the form token cookie, as any page before
    page = await coordinator.get("/no-such-page")
    assert page.status_code == 404
    token = re.search(r'action="/language" class="language"><input type="hidden" name="_csrf_token" value="([^"]+)"', page.text)
    assert token and token.group(1) == coordinator.raw.cookies.get("coop_csrf")
    switched = await coordinator.raw.post("/language", data={"language": "vi", "next": "/", "_csrf_token": token.group(1)})
    assert switched.status_code == 303


def test_a_form_that_does_not_show_a_boolean_keeps_its_default():
    """A subscription or an institution saved from a form without an `active` field stays active; an unticked box
    the form says it shows is false; a ticked one true."""
    from cooperation.forms import parse_form
    from cooperation.partners.schemas import InstitutionIn
    from cooperation.reports.subscriptions import SubscriptionIn

    assert parse_form(SubscriptionIn, {"kind": "portfolio", "frequency": "monthly"}).active is True
    assert parse_form(InstitutionIn, {"code": "NLC", "name": "National Library of China", "country": "CN"}).active is True
    shown = {"code": "NLC", "name": "National Library of China", "country": "CN", "_checkboxes": "active"}
    assert parse_form(InstitutionIn, shown).active is False
    assert parse_form(InstitutionIn, shown | {"active": "1"}).active is True


async def test_the_favicon_is_there_for_whoever_asks_the_root(anonymous):
    """Browsers and feed readers ask /favicon.ico whatever the page names: it answers, cached, and pages name the SVG."""
    icon = await anonymous.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/") and icon.content[:4] == b"\x00\x00\x01\x00"
    assert "max-age" in icon.headers["cache-control"]
    assert (await anonymous.get("/favicon.ico", headers={"if-none-match": icon.headers["etag"]})).status_code == 304
    assert '<link rel="icon" href="/static/img/favicon.svg"' in (await anonymous.get("/setup")).text
    assert (await anonymous.get("/static/img/favicon.svg")).status_code == 200
