"""Institutions and people: register, search in any script, edit with locking, archive; partner rights."""

import re

from sqlalchemy import select

from cooperation.audit import AuditEvent
from tests.agreements.helpers import agreement_payload
from tests.html_forms import form_fields


async def test_register_institution_and_people_with_native_names(client_for, world):
    coordinator = await client_for("coordinator")
    created = await coordinator.api(
        "POST",
        "/api/v1/institutions",
        json={
            "code": "nlk",
            "name": "National Library of Korea",
            "name_native": "국립중앙도서관",
            "country": "KR",
            "city": "Seoul",
            "kind": "national_library",
            "website": "https://www.nl.go.kr",
        },
    )
    assert created.status_code == 201, created.text
    institution = created.json()
    assert institution["code"] == "NLK" and institution["name_native"] == "국립중앙도서관"
    person = await coordinator.api(
        "POST",
        "/api/v1/people",
        json={
            "name": "Nguyen Xuan Dung",
            "name_native": "Nguyễn Xuân Dũng",
            "institution_id": str(world.home),
            "position": "Director",
            "languages": ["vi", "en"],
            "email": "dung@nlv.example",
        },
    )
    assert person.status_code == 201, person.text
    found = (await coordinator.api("GET", "/api/v1/people?q=nguyen%20xuan%20dung")).json()
    assert [p["name_native"] for p in found["items"]] == ["Nguyễn Xuân Dũng"]
    found_native = (await coordinator.api("GET", "/api/v1/people?q=Nguyễn")).json()
    assert found_native["total"] == 1
    by_country = (await coordinator.api("GET", "/api/v1/institutions?country=kr")).json()
    assert [i["code"] for i in by_country["items"]] == ["NLK"]
    page = await coordinator.get(f"/institutions/{institution['id']}")
    assert "국립중앙도서관" in page.text


async def test_institution_edit_locking_archive_and_audit(client_for, world, db):
    coordinator = await client_for("coordinator")
    body = {
        "code": "NLC",
        "name": "National Library of China (NLC)",
        "name_native": "中国国家图书馆",
        "country": "CN",
        "kind": "national_library",
    }
    updated = await coordinator.api("PUT", f"/api/v1/institutions/{world.nlc}", json={**body, "version": 1})
    assert updated.status_code == 200 and updated.json()["version"] == 2
    stale = await coordinator.api("PUT", f"/api/v1/institutions/{world.nlc}", json={**body, "name": "Lost", "version": 1})
    assert stale.status_code == 409
    assert (await coordinator.api("GET", f"/api/v1/institutions/{world.nlc}")).json()["name"] == "National Library of China (NLC)"
    archived = await coordinator.api("POST", f"/api/v1/institutions/{world.nlc}/archive", json={"version": 2})
    assert archived.json()["archived"] is True
    assert "NLC" not in [i["code"] for i in (await coordinator.api("GET", "/api/v1/institutions")).json()["items"]]
    home = await coordinator.api("POST", f"/api/v1/institutions/{world.home}/archive", json={"version": 1})
    assert home.status_code == 409
    restored = await coordinator.api("POST", f"/api/v1/institutions/{world.nlc}/restore", json={"version": 3})
    assert restored.json()["archived"] is False
    actions = (await db.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == world.nlc).order_by(AuditEvent.occurred_at))).all()
    assert actions == ["update", "archive", "restore"]


async def test_partner_manages_only_its_own_people(client_for, world):
    coordinator = await client_for("coordinator")
    shared = await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))
    assert shared.status_code == 201  # so NLV is an institution partner A works with, and may see
    partner = await client_for("partner_a")
    own = await partner.api(
        "POST", "/api/v1/people", json={"name": "Luo Chong", "institution_id": str(world.nlc), "position": "Deputy Director"}
    )
    assert own.status_code == 201, own.text
    other = await partner.api("POST", "/api/v1/people", json={"name": "Someone", "institution_id": str(world.home)})
    assert other.status_code == 422
    assert "your own institution" in other.json()["errors"]["institution_id"]
    hidden = await partner.api("POST", "/api/v1/people", json={"name": "Someone", "institution_id": str(world.bnf)})
    assert hidden.status_code == 422
    assert hidden.json()["errors"]["institution_id"] == "no such institution"
    refused = await partner.api("POST", "/api/v1/institutions", json={"code": "X1", "name": "X", "country": "FR"})
    assert refused.status_code == 403


async def test_comments_on_an_agreement(client_for, world):
    coordinator = await client_for("coordinator")
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    partner = await client_for("partner_a")
    posted = await partner.form(f"/comments/agreement/{agreement['id']}", {"body": "Chúng tôi đồng ý · 我们同意"})
    assert posted.status_code == 303
    listed = (await coordinator.api("GET", f"/api/v1/comments/agreement/{agreement['id']}")).json()
    assert [(c["author_name"], c["institution_code"], c["body"]) for c in listed] == [("Partner A", "NLC", "Chúng tôi đồng ý · 我们同意")]
    page = await coordinator.get(f"/agreements/{agreement['id']}")
    assert "我们同意" in page.text
    director = await client_for("director")
    refused = await director.api("POST", f"/api/v1/comments/agreement/{agreement['id']}", json={"body": "Hello"})
    assert refused.status_code == 403
    empty = await partner.api("POST", f"/api/v1/comments/agreement/{agreement['id']}", json={"body": "   "})
    assert empty.status_code == 422
    outsider = await client_for("partner_b")
    assert (await outsider.api("GET", f"/api/v1/comments/agreement/{agreement['id']}")).status_code == 404
    removed = await coordinator.form(f"/comments/{listed[0]['id']}/archive", {"version": "1"})
    assert removed.status_code == 303
    assert (await coordinator.api("GET", f"/api/v1/comments/agreement/{agreement['id']}")).json() == []


def _person_update(person):
    fields = ("name", "institution_id", "name_native", "position", "department", "email", "phone", "languages", "version")
    return {k: person[k] for k in fields}


async def test_what_is_mine_follows_the_link_from_person_to_account(db, client_for, world, story, people):
    """The director's own overdue action was missing from his home page: his person record had no matching e-mail.
    Now a person is linked to an account from the person's page (the account with the same e-mail suggested)."""
    coordinator = await client_for("coordinator")
    director = await client_for("director")
    action = await coordinator.api(
        "POST",
        f"/api/v1/follow-ups/visit/{story['visit']['id']}",
        json={
            "text": "Assess RFID and smart shelving for the NLV reading rooms",
            "responsible_institution_id": str(world.home),
            "responsible_person_id": people["dung"],
            "due_on": "2026-06-30",
        },
    )
    assert action.status_code == 201, action.text
    assert (await director.api("GET", "/api/v1/follow-ups/mine")).json() == []
    # A matching e-mail alone links nothing: it is only a suggestion on the person's page.
    person = (await coordinator.api("GET", f"/api/v1/people/{people['dung']}")).json()
    same_email = {**_person_update(person), "email": "Director@example.org"}
    edited = await coordinator.api("PUT", f"/api/v1/people/{people['dung']}", json=same_email)
    assert edited.status_code == 200, edited.text
    assert (await director.api("GET", "/api/v1/follow-ups/mine")).json() == []
    page = await coordinator.get(f"/people/{people['dung']}")
    assert "Not linked to an account" in page.text
    fields = form_fields(page.text, f"/people/{people['dung']}/account")
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', page.text.split('action="/people/')[-1])
    assert "(same e-mail)" in options[1][1] and "Director" in options[1][1]  # suggested first
    assert not any("Partner" in text for _, text in options)  # only accounts of the person's institution
    linked = await coordinator.form(f"/people/{people['dung']}/account", {**fields, "user_id": options[1][0]})
    assert linked.status_code == 303, linked.text
    mine = (await director.api("GET", "/api/v1/follow-ups/mine")).json()
    assert [f["text"] for f in mine] == ["Assess RFID and smart shelving for the NLV reading rooms"] and mine[0]["overdue"]
    home = await director.get("/")
    assert "Assess RFID and smart shelving" in home.text
    shown = (await director.api("GET", f"/api/v1/people/{people['dung']}")).json()
    assert shown["account_email"] == world.users["director"]
    events = (await db.execute(select(AuditEvent.summary).where(AuditEvent.action == "link_account"))).scalars().all()
    assert events == [f"Nguyen Xuan Dung linked to the account {world.users['director']}"]
    # One account, one person: linking it to a second person is a conflict naming the field.
    second = (await coordinator.api("GET", f"/api/v1/people/{people['anh']}")).json()
    taken = await coordinator.api(
        "PUT", f"/api/v1/people/{people['anh']}/account", json={"user_id": options[1][0], "version": second["version"]}
    )
    assert taken.status_code == 409 and "Nguyen Xuan Dung" in taken.json()["errors"]["user_id"]
    foreign = await coordinator.api("PUT", f"/api/v1/people/{people['luo']}/account", json={"user_id": options[1][0], "version": 1})
    assert foreign.status_code == 422 and "another institution" in foreign.json()["errors"]["user_id"]
    # Partners and directors do not link accounts; a partner does not see who is linked.
    assert (await director.api("PUT", f"/api/v1/people/{people['dung']}/account", json={"user_id": None, "version": 3})).status_code == 403
    partner = await client_for("partner_a")
    assert (await partner.api("GET", f"/api/v1/people/{people['dung']}")).json()["account_id"] is None


async def test_the_institution_page_is_the_partners_dossier(client_for, world, story):
    """It showed none of the institution's agreements, visits, exchanges or projects; now it does, each through the
    visibility rule of its kind (a partner never sees an internal agreement there)."""
    coordinator = await client_for("coordinator")
    internal = await coordinator.api(
        "POST",
        "/api/v1/agreements",
        json=agreement_payload([world.home, world.nlc], reference="NLV-NLC-INTERNAL", confidentiality="internal"),
    )
    assert internal.status_code == 201, internal.text
    page = (await coordinator.get(f"/institutions/{world.nlc}")).text
    assert "NLV-NLC-2025" in page and "NLV-NLC-INTERNAL" in page
    row = page[page.index("NLV-NLC-2025</a>") :].split("</tr>")[0]
    assert "<td>NLV · NLC</td>" in row  # the Parties column names them
    assert story["visit"]["title"] in page and "NLC → NLV" in page
    assert "NLV-BNF-2025" not in page and "Visite de la BnF" not in page  # other partners' records are not NLC's
    partner = await client_for("partner_a")
    own = (await partner.get(f"/institutions/{world.nlc}")).text
    assert "NLV-NLC-2025" in own and story["visit"]["title"] in own
    assert "NLV-NLC-INTERNAL" not in own
    home = (await coordinator.get(f"/institutions/{world.home}")).text
    assert 'id="shared-agreements"' not in home  # our own page is not a dossier of everything


async def test_linking_one_account_to_two_people_at_once_is_a_conflict(db, client_for, world, people):
    """Two coordinators linking the same account to two people at the same moment: one wins, the other gets a 409
    naming `user_id` (the unique index decides when both pass the check), never a 500."""
    import asyncio

    from cooperation.auth.models import User

    account = await db.scalar(select(User.id).where(User.email == world.users["director"]))
    first, second = await client_for("coordinator"), await client_for("admin")
    versions = {key: (await first.api("GET", f"/api/v1/people/{people[key]}")).json()["version"] for key in ("dung", "anh")}
    answers = await asyncio.gather(
        *(
            client.api("PUT", f"/api/v1/people/{people[key]}/account", json={"user_id": str(account), "version": versions[key]})
            for client, key in ((first, "dung"), (second, "anh"))
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    assert "user_id" in next(a for a in answers if a.status_code == 409).json()["errors"]


async def test_a_follow_up_reaches_its_person_once_they_sign_in_with_that_email(client_for, world, story):
    """The follow-up form listed only the visit's people, and an action reached its owner's home page only if someone
    had linked their person record to their account by hand. The form now offers the department's and the partner's
    people, says how the action will reach each, and the first sign-in with a person's e-mail links them, once."""
    coordinator = await client_for("coordinator")
    email = world.users["director"]
    ha = await coordinator.api("POST", "/api/v1/people", json={"name": "Trần Thu Hà", "institution_id": str(world.home), "email": email})
    lan = await coordinator.api(
        "POST", "/api/v1/people", json={"name": "Wang Lan", "institution_id": str(world.nlc), "email": "lan@nlc.example"}
    )
    page = (await coordinator.get(f"/visits/{story['visit']['id']}")).text
    form = page[page.index('name="responsible_person_id"') :].split("</select>")[0]
    assert "Trần Thu Hà (NLV) — by a daily reminder to " + email in form  # not a participant of the visit, offered all the same
    assert "Wang Lan (NLC) — by a daily reminder to lan@nlc.example" in form
    given = await coordinator.form(
        f"/follow-ups/visit/{story['visit']['id']}",
        {"text": "Send the RFID study", "responsible_institution_id": str(world.home), "responsible_person_id": ha.json()["id"]},
    )
    assert given.status_code == 303, given.text[:300]
    assert lan.status_code == 201
    director = await client_for("director")  # signs in with the person's e-mail: linked, once
    assert [a["text"] for a in (await director.api("GET", "/api/v1/follow-ups/mine")).json()] == ["Send the RFID study"]
    assert "Send the RFID study" in (await director.get("/")).text
    page = (await coordinator.get(f"/visits/{story['visit']['id']}")).text
    form = page[page.index('name="responsible_person_id"') :].split("</select>")[0]
    assert "Trần Thu Hà (NLV) — on their home page and in a daily reminder" in form
    person = (await coordinator.get(f"/people/{ha.json()['id']}")).text
    assert "Not linked to an account" not in person
