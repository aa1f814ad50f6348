"""Renewal drafts a linked successor and shows what changed; commitments and their inline progress."""

from datetime import date

from agreements import services
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


async def test_a_yearly_target_is_measured_by_the_visits_linked_to_it(client_for, world, people):
    """ "Two expert delegations a year" stayed a hand-typed 25% though visits were linked to it ("Fulfilled by")."""
    from tests.exchanges.helpers import seed_visit_payload

    coordinator = await client_for("coordinator")
    terms = agreement_payload([world.home, world.nlc], effective_on="2025-04-10", expires_on="2030-04-09")
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=terms)).json()
    commitment = (
        await coordinator.api(
            "POST",
            f"/api/v1/agreements/{agreement['id']}/commitments",
            json={"text": "Two expert delegations a year", "yearly_target": 2, "unit": "visits"},
        )
    ).json()
    typed = await coordinator.api(
        "PATCH",
        f"/api/v1/agreements/{agreement['id']}/commitments/{commitment['id']}/progress",
        json={"status": "in_progress", "progress": 25, "version": commitment["version"]},
    )
    assert typed.status_code == 200  # nothing linked yet: typed, as before

    def of(read):
        return next(c for c in read["commitments"] if c["id"] == commitment["id"])

    payload = seed_visit_payload(world, people, agreement_id=agreement["id"], commitment_ids=[commitment["id"]])
    visit = (await coordinator.api("POST", "/api/v1/visits", json=payload)).json()
    planned = of((await coordinator.api("GET", f"/api/v1/agreements/{agreement['id']}")).json())
    assert planned["progress"] == 0 and planned["measured_state"] == "behind" and planned["status"] == "at_risk"
    done = await coordinator.api("POST", f"/api/v1/visits/{visit['id']}/transition", json={"to": "completed", "version": 1})
    assert done.status_code == 200, done.text
    measured = of((await coordinator.api("GET", f"/api/v1/agreements/{agreement['id']}")).json())
    today = date.today()
    years = ", ".join(f"{y}: {1 if y == 2025 else 0} of 2" for y in range(2025, min(today.year, 2030) + 1))
    assert measured["measured_by"] == f"1 of 10 visits completed over the term ({years})"
    assert measured["progress"] == 10
    # 2025-04-10 to today asks for floor(2 × years elapsed) delegations: one is behind from mid-2026 on.
    expected = services.pace(1, 10, date(2025, 4, 10), date(2030, 4, 9), today)
    assert measured["measured_state"] == expected and expected == "behind"
    assert measured["status"] == "at_risk"  # the status follows the measure
    page = await coordinator.get(f"/agreements/{agreement['id']}")
    assert "1 of 10 visits completed over the term" in page.text and "Behind (follows its measure)" in page.text
    refused = await coordinator.api(
        "PATCH",
        f"/api/v1/agreements/{agreement['id']}/commitments/{commitment['id']}/progress",
        json={"status": "done", "progress": 10, "version": measured["version"]},
    )
    assert refused.status_code == 409 and "follows its measure" in refused.json()["detail"]
    cancelled = await coordinator.api(
        "PATCH",
        f"/api/v1/agreements/{agreement['id']}/commitments/{commitment['id']}/progress",
        json={"status": "cancelled", "progress": 10, "version": measured["version"]},
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_pace_is_pro_rata_in_whole_units():
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    assert services.pace(0, 2, start, end, date(2026, 3, 1)) == "on_track"  # nothing due yet
    assert services.pace(0, 2, start, end, date(2026, 7, 15)) == "behind"  # one due by mid-year
    assert services.pace(1, 2, start, end, date(2026, 7, 15)) == "on_track"
    assert services.pace(2, 2, start, end, date(2026, 7, 15)) == "met"
    assert services.pace(5, 0, None, None, date(2026, 7, 15)) == "on_track"  # no target, no deadline: never behind
