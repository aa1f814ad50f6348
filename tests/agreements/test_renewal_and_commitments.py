"""Renewal drafts a linked successor and shows what changed; commitments and their inline progress."""

from datetime import date

from tests.agreements.helpers import agreement_payload


async def signed_in_force(client, world, **overrides):
    payload = agreement_payload(
        [world.home, world.nlc],
        signed=date(2025, 4, 10),
        effective_on="2025-04-10",
        expires_on="2027-04-09",
        renewal_term_months=36,
        **overrides,
    )
    created = (await client.api("POST", "/api/v1/agreements", json=payload)).json()
    for version, target in enumerate(("negotiating", "signed", "in_force"), start=1):
        response = await client.api("POST", f"/api/v1/agreements/{created['id']}/transition", json={"to": target, "version": version})
        assert response.status_code == 200, response.text
    return created["id"]


async def test_renewal_creates_linked_draft_and_diff(client_for, world):
    coordinator = await client_for("coordinator")
    agreement_id = await signed_in_force(coordinator, world)
    commitment = await coordinator.api(
        "POST",
        f"/api/v1/agreements/{agreement_id}/commitments",
        json={"text": "Two expert exchanges a year", "yearly_target": 2, "unit": "experts", "responsible_institution_id": str(world.nlc)},
    )
    assert commitment.status_code == 201, commitment.text
    renewed = await coordinator.api("POST", f"/api/v1/agreements/{agreement_id}/renew")
    assert renewed.status_code == 201, renewed.text
    successor = renewed.json()
    assert successor["status"] == "draft"
    assert successor["reference"] == "NLV-NLC-2025-R1"
    assert successor["predecessor"]["id"] == agreement_id
    assert successor["effective_on"] == "2027-04-10"
    assert successor["expires_on"] == "2030-04-10"
    assert [c["text"] for c in successor["commitments"]] == ["Two expert exchanges a year"]
    assert all(p["signed_on"] is None for p in successor["parties"])
    again = await coordinator.api("POST", f"/api/v1/agreements/{agreement_id}/renew")
    assert again.status_code == 409
    edit = agreement_payload(
        [world.home, world.nlc, world.ndl],
        reference="NLV-NLC-2025-R1",
        title="Extended cooperation agreement",
        effective_on="2027-04-10",
        expires_on="2030-04-10",
    )
    assert (await coordinator.api("PUT", f"/api/v1/agreements/{successor['id']}", json={**edit, "version": 1})).status_code == 200
    diff = (await coordinator.api("GET", f"/api/v1/agreements/{successor['id']}/renewal-diff")).json()
    fields = {f["field"]: (f["before"], f["after"]) for f in diff["fields"]}
    assert fields["title"] == ("Cooperation Agreement between NLV and NLC", "Extended cooperation agreement")
    assert fields["expires_on"] == ("2027-04-09", "2030-04-10")
    assert diff["parties_added"] == ["NDL"]
    page = await coordinator.get(f"/agreements/{successor['id']}")
    assert "What changed since NLV-NLC-2025" in page.text and "Extended cooperation agreement" in page.text
    original = (await coordinator.api("GET", f"/api/v1/agreements/{agreement_id}")).json()
    assert [s["reference"] for s in original["successors"]] == ["NLV-NLC-2025-R1"]


async def test_draft_cannot_be_renewed(client_for, world):
    coordinator = await client_for("coordinator")
    created = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    response = await coordinator.api("POST", f"/api/v1/agreements/{created['id']}/renew")
    assert response.status_code == 409
    assert "this one is draft" in response.json()["detail"]


async def test_commitment_progress_inline_and_partner_rights(client_for, world):
    coordinator = await client_for("coordinator")
    agreement_id = await signed_in_force(coordinator, world)
    ours = (
        await coordinator.api(
            "POST",
            f"/api/v1/agreements/{agreement_id}/commitments",
            json={"text": "Share 500 digitized titles", "responsible_institution_id": str(world.home)},
        )
    ).json()
    theirs = (
        await coordinator.api(
            "POST",
            f"/api/v1/agreements/{agreement_id}/commitments",
            json={"text": "Host two NLV experts", "responsible_institution_id": str(world.nlc)},
        )
    ).json()
    partner = await client_for("partner_a")
    own = await partner.form(
        f"/agreements/{agreement_id}/commitments/{theirs['id']}/progress",
        {"status": "in_progress", "progress": "50", "version": "1"},
        headers={"HX-Request": "true"},
    )
    assert own.status_code == 200
    assert own.text.lstrip().startswith(f'<tr id="commitment-{theirs["id"]}"')  # the row alone, swapped in place
    assert 'value="50"' in own.text
    other = await partner.api(
        "PATCH",
        f"/api/v1/agreements/{agreement_id}/commitments/{ours['id']}/progress",
        json={"status": "done", "progress": 100, "version": 1},
    )
    assert other.status_code == 403
    stale = await partner.form(
        f"/agreements/{agreement_id}/commitments/{theirs['id']}/progress",
        {"status": "done", "progress": "100", "version": "1"},
        headers={"HX-Request": "true"},
    )
    assert "changed by someone else" in stale.text or "stale" in stale.text
    invalid = await coordinator.api(
        "PATCH",
        f"/api/v1/agreements/{agreement_id}/commitments/{ours['id']}/progress",
        json={"status": "done", "progress": 40, "version": 1},
    )
    assert invalid.status_code == 422
    agreement = (await coordinator.api("GET", f"/api/v1/agreements/{agreement_id}")).json()
    progress = {c["text"]: (c["status"], c["progress"]) for c in agreement["commitments"]}
    assert progress == {"Share 500 digitized titles": ("planned", 0), "Host two NLV experts": ("in_progress", 50)}
    history = (await coordinator.api("GET", f"/api/v1/agreements/{agreement_id}/history")).json()
    assert any(h["action"] == "commitment_progress" and h["actor_name"] == "Partner A" for h in history)


async def test_commitment_responsible_must_be_a_party(client_for, world):
    coordinator = await client_for("coordinator")
    agreement_id = await signed_in_force(coordinator, world)
    response = await coordinator.api(
        "POST", f"/api/v1/agreements/{agreement_id}/commitments", json={"text": "Something", "responsible_institution_id": str(world.bnf)}
    )
    assert response.status_code == 422
    assert response.json()["errors"]["responsible_institution_id"] == "must be one of the agreement's parties"


async def test_partner_updates_only_its_own_party(client_for, world):
    coordinator = await client_for("coordinator")
    created = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    partner = await client_for("partner_a")
    own = await partner.api(
        "PUT",
        f"/api/v1/agreements/{created['id']}/parties/{world.nlc}",
        json={"signatory_name": "熊远明", "signatory_title": "Director", "signed_on": "2025-04-10"},
    )
    assert own.status_code == 200, own.text
    nlc = next(p for p in own.json()["parties"] if p["code"] == "NLC")
    assert nlc["signatory_name"] == "熊远明"
    other = await partner.api("PUT", f"/api/v1/agreements/{created['id']}/parties/{world.home}", json={"signatory_name": "Someone"})
    assert other.status_code == 403
