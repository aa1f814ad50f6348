"""Agreement pages: forms keep what was typed and show each error beside its field; lists filter with htmx."""

import re


def form_for(world, **overrides):
    data = {
        "reference": "NLV-NLC-2025",
        "title": "Thỏa thuận hợp tác NLV–NLC",
        "kind": "cooperation_agreement",
        "confidentiality": "parties",
        "summary": "Hợp tác trong môi trường số",
        "scope_tags": "digitization, ancient books",
        "party-0-institution_id": str(world.home),
        "party-0-signatory_name": "Nguyễn Xuân Dũng",
        "party-0-signatory_title": "Director",
        "party-0-signed_on": "2025-04-10",
        "party-1-institution_id": str(world.nlc),
        "party-1-signatory_name": "",
        "party-1-signatory_title": "",
        "party-1-signed_on": "2025-04-10",
        "party-2-institution_id": "",
        "party-2-signatory_name": "",
        "party-2-signatory_title": "",
        "party-2-signed_on": "",
        "effective_on": "2025-04-10",
        "expires_on": "2030-04-09",
        "renewal_term_months": "60",
        "notice_period_days": "180",
        "auto_renew": "1",
    }
    data.update(overrides)
    return data


async def test_create_through_the_form(client_for, world):
    coordinator = await client_for("coordinator")
    response = await coordinator.form("/agreements", form_for(world))
    assert response.status_code == 303, response.text
    detail = await coordinator.get(response.headers["location"])
    assert "Thỏa thuận hợp tác NLV–NLC" in detail.text
    assert "Nguyễn Xuân Dũng" in detail.text and "中国国家图书馆" in detail.text
    listing = await coordinator.get("/agreements")
    assert "NLV-NLC-2025" in listing.text and "NLV · NLC" in listing.text


async def test_invalid_form_shows_errors_in_place_and_keeps_input(client_for, world):
    coordinator = await client_for("coordinator")
    response = await coordinator.form(
        "/agreements",
        form_for(
            world,
            **{
                "party-1-institution_id": "",
                "party-1-signed_on": "",
                "expires_on": "2020-01-01",
                "party-0-signed_on": "10/04/2025",
                "notice_period_days": "many",
            },
        ),
    )
    assert response.status_code == 422
    html = response.text
    assert 'value="Thỏa thuận hợp tác NLV–NLC"' in html  # what was typed is kept
    assert 'value="Nguyễn Xuân Dũng"' in html
    assert re.search(r'id="notice_period_days-error">[^<]+', html)
    assert "parties.0.signed_on" in html or "party-0-signed_on" in html
    assert (await coordinator.api("GET", "/api/v1/agreements")).json()["total"] == 0
    one_party = await coordinator.form("/agreements", form_for(world, **{"party-1-institution_id": "", "party-1-signed_on": ""}))
    assert one_party.status_code == 422
    assert "at least two parties" in one_party.text


async def test_htmx_filter_returns_only_the_table(client_for, world):
    coordinator = await client_for("coordinator")
    await coordinator.form("/agreements", form_for(world))
    response = await coordinator.get("/agreements?q=nlv", headers={"HX-Request": "true", "HX-Target": "agreement-table"})
    assert response.text.lstrip().startswith('<div id="agreement-table">')
    assert "NLV-NLC-2025" in response.text
    assert "<html" not in response.text


async def test_partner_cannot_open_the_create_form(client_for, world):
    partner = await client_for("partner_a")
    assert (await partner.get("/agreements/new")).status_code == 403
    assert (await partner.get("/institutions/new")).status_code == 403


async def test_institution_form_errors(client_for, world):
    coordinator = await client_for("coordinator")
    response = await coordinator.form(
        "/institutions", {"code": "NLV", "name": "Thư viện", "country": "XX", "kind": "national_library", "website": "ftp://x"}
    )
    assert response.status_code == 422
    assert "already used" in response.text and "not an ISO 3166 country code" in response.text and "http://" in response.text
    created = await coordinator.form(
        "/institutions",
        {
            "code": "nlk",
            "name": "National Library of Korea",
            "name_native": "국립중앙도서관",
            "country": "kr",
            "kind": "national_library",
            "active": "1",
        },
    )
    assert created.status_code == 303
    page = await coordinator.get(created.headers["location"])
    assert "NLK" in page.text and "국립중앙도서관" in page.text and "South Korea" in page.text


async def test_a_stale_edit_in_a_second_tab_keeps_what_was_typed(client_for, world):
    from tests.html_forms import form_fields

    coordinator = await client_for("coordinator")
    created = await coordinator.form("/agreements", form_for(world))
    url = created.headers["location"]
    first = form_fields((await coordinator.get(url + "/edit")).text, url)
    second = dict(first)
    assert (await coordinator.form(url, {**first, "summary": "Sửa ở tab thứ nhất"})).status_code == 303
    stale = await coordinator.form(url, {**second, "title": "Tiêu đề ở tab thứ hai", "auto_renew": "1"})
    assert stale.status_code == 409 and "Someone saved this record while you were editing it" in stale.text
    kept = form_fields(stale.text, url)
    assert kept["title"] == "Tiêu đề ở tab thứ hai"
    rows = re.findall(r"<tr><td>([^<]+)</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td></tr>", stale.text)
    assert ("Summary", "Sửa ở tab thứ nhất", "Hợp tác trong môi trường số") in rows
    assert ("Title", "Thỏa thuận hợp tác NLV–NLC", "Tiêu đề ở tab thứ hai") in rows
    assert not any(field == "Renews automatically" for field, _, _ in rows)  # a ticked box is what is stored
    assert (await coordinator.form(url, kept)).status_code == 303


async def test_an_agreement_signed_in_april_2025_is_recorded_in_force_in_one_save(client_for, world):
    """It took three status changes and a return to "Edit terms" (each party needed its own signing date). The form
    takes the status it is in now, with the dates that status needs; a party's signing date is the agreement's."""
    coordinator = await client_for("coordinator")
    assert 'id="f-status"' in (await coordinator.get("/agreements/new")).text
    typed = form_for(world, **{"party-0-signed_on": "", "party-1-signed_on": "", "signed_on": "2025-04-10", "status": "in_force"})
    saved = await coordinator.form("/agreements", typed)
    assert saved.status_code == 303, saved.text[:500]
    agreement = (await coordinator.api("GET", saved.headers["location"].replace("/agreements", "/api/v1/agreements"))).json()
    assert agreement["status"] == "in_force" and agreement["signed_on"] == "2025-04-10"
    assert [p["signed_on"] for p in agreement["parties"]] == ["2025-04-10", "2025-04-10"]
    history = (await coordinator.get(saved.headers["location"])).text
    assert "In force" in history
    # A status its dates do not allow is refused beside the field, nothing saved: in force before it takes effect…
    early = form_for(
        world, reference="NLV-NLC-2031", signed_on="2030-12-01", effective_on="2031-01-01", expires_on="2035-12-31", status="in_force"
    )
    refused = await coordinator.form("/agreements", early)
    assert refused.status_code == 422 and "before its effective date" in refused.text, re.findall(r"<li>.*?</li>|error[^<]*<", refused.text)
    # …signed with no signing date anywhere.
    unsigned = form_for(world, reference="NLV-NLC-X", **{"party-0-signed_on": "", "party-1-signed_on": "", "status": "signed"})
    refused = await coordinator.form("/agreements", unsigned)
    assert refused.status_code == 422 and "has no signing date yet" in refused.text
    assert (await coordinator.api("GET", "/api/v1/agreements", params={"q": "NLV-NLC-X"})).json()["total"] == 0
    # Left out, as before: a draft.
    draft = await coordinator.api("POST", "/api/v1/agreements", json={**_api_payload(world), "reference": "NLV-NLC-D"})
    assert (
        draft.status_code == 201 and (await coordinator.api("GET", f"/api/v1/agreements/{draft.json()['id']}")).json()["status"] == "draft"
    )


def _api_payload(world):
    from tests.agreements.helpers import agreement_payload

    return agreement_payload([world.home, world.nlc])
