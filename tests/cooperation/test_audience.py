"""Who sees what, said on every piece: each comment, document and photo has an audience chosen where it is written
(department only by default for staff; a partner's own piece reaches the department and that partner only), shown
on the piece, changed later by staff (audited); nothing reaches the portal before a coordinator publishes it; and a
coordinator "viewing as" a partner gets exactly what that partner's own session gets, and may change nothing.

The matrix: every kind of piece × audience × reader (department staff, a partner of the record, another partner of
the same record, an anonymous visitor) × channel (the record's page, the JSON API, the file itself, "view as", the
visit summary PDF and the partner dossier, the portal and its Atom feed, search, the gift register and its CSV) — each
piece seen exactly when it should be."""

import dataclasses
import io

from PIL import Image

from tests.agreements.helpers import agreement_payload
from tests.conftest import http_client
from tests.cooperation.test_reports import _report_text
from tests.exchanges.helpers import seed_visit_payload

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _png(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (shade, 90, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


def _visit_payload(world, people):
    """The seed visit, public, with an outcome and a session's notes for the department and for its partners."""
    payload = seed_visit_payload(world, people, public=True)
    payload["outcomes"] = [
        {"text": "Internal outcome: ask the director for the 2026 budget", "audience": "department"},
        {"text": "Shared outcome: develop smart library models together", "audience": "partners"},
    ]
    payload["agenda"][0] |= {"notes": "Internal agenda note: seat the director first"}
    payload["agenda"][1] |= {"notes": "Shared agenda note: bring the RFID samples", "notes_audience": "partners"}
    return payload


async def _pieces(client_for, world, people):
    """An agreement with NLC and BnF and a public completed visit of NLC, each holding one piece per audience."""
    coordinator = await client_for("coordinator")
    nlc, bnf = await client_for("partner_a"), await client_for("partner_b")
    payload = agreement_payload([world.home, world.nlc, world.bnf], reference="NLV-NLC-BNF-2025")
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=payload)).json()
    owner = f"/api/v1/comments/agreement/{agreement['id']}"
    made = {
        "comment-department": (await coordinator.api("POST", owner, json={"body": "INTERNAL NOTE: gift budget exceeded"})).json(),
        "comment-partners": (
            await coordinator.api("POST", owner, json={"body": "Shared: the plan for 2026", "audience": "partners"})
        ).json(),
        "comment-nlc": (await nlc.api("POST", owner, json={"body": "NLC asks about the shipment list"})).json(),
    }
    files_url = f"/api/v1/attachments/agreement/{agreement['id']}"

    async def upload(client, name, **data):
        answer = await client.api("POST", files_url, files={"file": (name, PDF, "application/pdf")}, data=data)
        assert answer.status_code == 201, answer.text
        return answer.json()

    made["document-department"] = await upload(coordinator, "budget-internal.pdf")
    made["document-partners"] = await upload(coordinator, "signed-copy.pdf", audience="partners")
    made["document-nlc"] = await upload(nlc, "nlc-letter.pdf")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=_visit_payload(world, people))).json()
    for step in ("confirmed", "completed"):
        version = (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}")).json()["version"]
        assert (
            await coordinator.api("POST", f"/api/v1/visits/{visit['id']}/transition", json={"to": step, "version": version})
        ).status_code == 200
    photos_url = f"/api/v1/visits/{visit['id']}/photos"

    async def photo(client, shade, caption, **data):
        answer = await client.api(
            "POST", photos_url, files={"file": (f"{shade}.png", _png(shade), "image/png")}, data={"caption": caption, **data}
        )
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    made["photo-department"] = await photo(coordinator, 10, "Internal: the gift room")
    made["photo-partners"] = await photo(coordinator, 60, "Shared: the reading room", audience="partners")
    made["photo-nlc"] = await photo(nlc, 110, "By NLC: the delegation arrives")
    made["photo-public"] = await photo(coordinator, 160, "Public: the signing ceremony")
    return coordinator, nlc, bnf, agreement, visit, made


# Who reads each piece: a partner reads what is shared with the record's partners and its own institution's pieces.
SEEN_BY = {
    "comment-department": {"coordinator", "director"},
    "comment-partners": {"coordinator", "director", "nlc", "bnf"},
    "comment-nlc": {"coordinator", "director", "nlc"},
    "document-department": {"coordinator", "director"},
    "document-partners": {"coordinator", "director", "nlc", "bnf"},
    "document-nlc": {"coordinator", "director", "nlc"},
    "photo-department": {"coordinator", "director"},
    "photo-partners": {"coordinator", "director", "nlc"},  # the visit is NLC's: BnF does not see the record at all
    "photo-nlc": {"coordinator", "director", "nlc"},
    "photo-public": {"coordinator", "director", "nlc", "anonymous"},  # once published
    "outcome-department": {"coordinator", "director"},
    "outcome-partners": {"coordinator", "director", "nlc", "anonymous"},  # with the published summary
    "agenda-department": {"coordinator", "director"},
    "agenda-partners": {"coordinator", "director", "nlc"},  # the portal prints the programme, never its notes
}
TEXT = {
    "comment-department": "INTERNAL NOTE: gift budget exceeded",
    "comment-partners": "Shared: the plan for 2026",
    "comment-nlc": "NLC asks about the shipment list",
    "document-department": "budget-internal.pdf",
    "document-partners": "signed-copy.pdf",
    "document-nlc": "nlc-letter.pdf",
    "photo-department": "Internal: the gift room",
    "photo-partners": "Shared: the reading room",
    "photo-nlc": "By NLC: the delegation arrives",
    "photo-public": "Public: the signing ceremony",
    "outcome-department": "Internal outcome: ask the director for the 2026 budget",
    "outcome-partners": "Shared outcome: develop smart library models together",
    "agenda-department": "Internal agenda note: seat the director first",
    "agenda-partners": "Shared agenda note: bring the RFID samples",
}


async def test_every_piece_reaches_exactly_its_audience_in_every_channel(app, client_for, world, people, anonymous):
    app.state.settings = dataclasses.replace(app.state.settings, portal=True)
    coordinator, nlc, bnf, agreement, visit, made = await _pieces(client_for, world, people)
    assert made["comment-department"]["audience"] == "department"  # staff's pieces start with the department only
    assert made["comment-nlc"]["audience"] == "partners" and made["document-nlc"]["audience"] == "partners"
    # Nothing is public until a coordinator publishes it: the photo waits, uncaptioned ones cannot be published.
    waiting = await coordinator.get("/publication")
    assert TEXT["photo-nlc"] in waiting.text and TEXT["photo-public"] in waiting.text and visit["title"] in waiting.text
    portal = await anonymous.get(f"/portal/photos/{made['photo-nlc']['id']}")
    assert portal.status_code == 404  # a partner's upload to a public visit is not public by itself
    published = await coordinator.form("/publication/photo", {"photo": made["photo-public"]["id"], "decision": "publish"})
    assert published.status_code == 303
    assert (await coordinator.form("/publication/summary", {"summary": visit["id"], "decision": "publish"})).status_code == 303
    readers = {"coordinator": coordinator, "director": await client_for("director"), "nlc": nlc, "bnf": bnf}
    pages = {
        reader: {
            "agreement": (await client.get(f"/agreements/{agreement['id']}")).text,
            "visit": (await client.get(f"/visits/{visit['id']}")).text,
            "comments": (await client.api("GET", f"/api/v1/comments/agreement/{agreement['id']}")).text,
            "photos": (await client.api("GET", f"/api/v1/visits/{visit['id']}/photos")).text,
            "visit_api": (await client.api("GET", f"/api/v1/visits/{visit['id']}")).text,
            # Search reads records' own words, never a piece's: a hidden piece's words find nothing for anyone.
            "search": (await client.get("/visits", params={"q": "Internal outcome"})).text
            + (await client.get("/agreements", params={"q": "INTERNAL NOTE"})).text,
        }
        for reader, client in readers.items()
    }
    portal_page = (await anonymous.get(f"/portal/visits/{visit['id']}")).text
    feed = (await anonymous.get("/portal/feed.atom")).text
    for piece, text in TEXT.items():
        for reader in readers:
            seen = pages[reader]
            if piece.startswith("comment"):
                channels = {"page": text in seen["agreement"], "api": text in seen["comments"]}
            elif piece.startswith("document"):
                download = await readers[reader].get(f"/attachments/{made[piece]['id']}")
                channels = {"page": text in seen["agreement"], "file": download.status_code == 200}
            elif piece.startswith(("outcome", "agenda")):
                channels = {"page": text in seen["visit"], "api": text in seen["visit_api"]}
            else:
                thumbnail = await readers[reader].get(f"/visits/photos/{made[piece]['id']}/thumbnail")
                channels = {"page": text in seen["visit"], "api": text in seen["photos"], "thumbnail": thumbnail.status_code == 200}
            expected = reader in SEEN_BY[piece]
            assert channels == dict.fromkeys(channels, expected), (piece, reader, channels)
        on_portal = "anonymous" in SEEN_BY[piece]
        assert (text in portal_page) == on_portal, piece
        assert text not in feed  # the feed carries summaries, never a piece
        if piece.startswith("photo"):
            file = await anonymous.get(f"/portal/photos/{made[piece]['id']}")
            assert (file.status_code == 200) == on_portal, piece
    # The agreement's conditions, as a partner (and a partner's instance) reads them: only the texts shared with them.
    for reader in (coordinator, nlc):
        snapshot = (await reader.api("GET", f"/api/v1/agreements/{agreement['id']}/snapshot")).json()["snapshot"]
        assert {t["title"] for t in snapshot["texts"]} == {"signed-copy.pdf"}  # not NLC's letter: BnF is a party too
    # The visit summary PDF: a partner's copy leaves out the department's photos; the department's marks them.
    for_nlc = await _report_text(app, nlc, {"kind": "visit", "scope_id": visit["id"]})
    assert TEXT["photo-partners"] in for_nlc and TEXT["photo-department"] not in for_nlc
    assert TEXT["outcome-partners"] in for_nlc and TEXT["outcome-department"] not in for_nlc
    for_department = await _report_text(app, coordinator, {"kind": "visit", "scope_id": visit["id"]})
    assert f"{TEXT['photo-department']} (Department only)" in for_department
    assert f"{TEXT['outcome-department']} (Department only)" in " ".join(for_department.split())
    # The partner dossier NLC's librarian makes of its own institution: what was agreed, without the department's own.
    dossier = await _report_text(app, nlc, {"kind": "partner", "scope_id": str(world.nlc), "period": "2025"})
    assert TEXT["outcome-partners"] in " ".join(dossier.split()) and "Internal outcome" not in dossier
    # The visit's form offers who reads each outcome and each session's notes, beside them, as they were chosen.
    form = " ".join((await coordinator.get(f"/visits/{visit['id']}/edit")).text.split())
    for name, chosen in (("outcome-0-audience", "department"), ("outcome-1-audience", "partners"), ("agenda-1-notes_audience", "partners")):
        select = form.split(f'name="{name}"')[1].split("</select>")[0]
        assert f'value="{chosen}" selected' in select, name
    # Staff change who reads an outcome later, from the same form (or the API), and the history says so.
    stored = (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}")).json()
    outcomes = [o | {"audience": "partners"} for o in stored["outcomes"]]
    again = _visit_payload(world, people) | {"version": stored["version"], "outcomes": outcomes}
    assert (await coordinator.api("PUT", f"/api/v1/visits/{visit['id']}", json=again)).status_code == 200
    assert TEXT["outcome-department"] in (await nlc.get(f"/visits/{visit['id']}")).text
    history = " ".join((await coordinator.get(f"/visits/{visit['id']}")).text.split())
    assert f"{TEXT['outcome-department']} [department]" in history and f"{TEXT['outcome-department']} [partners]" in history
    for reader in readers:  # search
        assert visit["id"] not in pages[reader]["search"] and agreement["id"] not in pages[reader]["search"]
    # Gift notes are the register's, and the register is the department's: no partner reads it, on a page or in CSV.
    for path in ("/gifts", "/gifts/export.csv", "/api/v1/gifts"):
        assert (await nlc.get(path)).status_code in (403, 404), path
    # A published photo taken back is gone from the portal at the next request.
    kept = await coordinator.form("/publication/photo", {"photo": made["photo-public"]["id"], "decision": "keep"})
    assert kept.status_code == 303
    assert (await anonymous.get(f"/portal/photos/{made['photo-public']['id']}")).status_code == 404
    assert TEXT["photo-public"] not in (await anonymous.get(f"/portal/visits/{visit['id']}")).text


async def test_the_audience_is_chosen_beside_the_save_button_and_changed_later_audited(app, client_for, world, people):
    coordinator, nlc, _, agreement, visit, _ = await _pieces(client_for, world, people)
    page = (await coordinator.get(f"/agreements/{agreement['id']}")).text
    # The choice names who will see the piece, narrowest first and chosen by default.
    assert 'name="audience" value="department" checked> NLV staff only' in page
    assert "NLV staff and BNF · National Library of France, NLC · National Library of China" in page
    assert "Department only" in page and "Shared with BNF, NLC" in page and "Shared with NLC" in page
    partner_page = (await nlc.get(f"/agreements/{agreement['id']}")).text
    assert (
        'name="audience"' not in partner_page
        and "Seen by NLV staff and NLC · National Library of China, not by other partners." in partner_page
    )
    # A comment written on the page with the department's audience; then shared with the partners, audited.
    posted = await coordinator.form(
        f"/comments/agreement/{agreement['id']}", {"body": "Chỉ nội bộ: ngân sách quà tặng", "audience": "department"}
    )
    assert posted.status_code == 303
    assert "Chỉ nội bộ" not in (await nlc.get(f"/agreements/{agreement['id']}")).text
    (comment,) = [
        c for c in (await coordinator.api("GET", f"/api/v1/comments/agreement/{agreement['id']}")).json() if "Chỉ nội bộ" in c["body"]
    ]
    shared = await coordinator.form(f"/comments/{comment['id']}/audience", {"audience": "partners", "version": str(comment["version"])})
    assert shared.status_code == 303
    assert "Chỉ nội bộ" in (await nlc.get(f"/agreements/{agreement['id']}")).text
    history = (await coordinator.get(f"/agreements/{agreement['id']}")).text
    assert "Comment by Coordinator on agreement NLV-NLC-BNF-2025: department → partners" in history
    # A partner may not change an audience, and may not make its piece department-only or public.
    refused = await nlc.api(
        "PATCH", f"/api/v1/comments/{comment['id']}", json={"audience": "department", "version": comment["version"] + 1}
    )
    assert refused.status_code == 403
    odd = await coordinator.api("POST", f"/api/v1/comments/agreement/{agreement['id']}", json={"body": "x", "audience": "public"})
    assert odd.status_code in (400, 422) and "audience" in odd.text
    # An unpublished photo cannot be published without its caption.
    bare = await coordinator.api(
        "POST", f"/api/v1/visits/{visit['id']}/photos", files={"file": ("bare.png", _png(200), "image/png")}, data={"audience": "partners"}
    )
    refused_photo = await coordinator.form("/publication/photo", {"photo": bare.json()["id"], "decision": "publish"})
    assert refused_photo.status_code == 422 and "caption" in refused_photo.text


async def test_viewing_as_a_partner_gets_that_partners_pages_and_changes_nothing(app, client_for, world, people):
    _, nlc, _, agreement, visit, _ = await _pieces(client_for, world, people)
    async with http_client(app, "192.0.2.70") as raw:
        from tests.conftest import Client

        viewer = Client(raw)
        await viewer.sign_in(world.users["coordinator"])
        started = await viewer.form("/view-as", {"institution_id": str(world.nlc), "next": f"/agreements/{agreement['id']}"})
        assert started.status_code == 303
        for path in (f"/agreements/{agreement['id']}", f"/visits/{visit['id']}", "/agreements", "/visits", "/"):
            as_viewer, as_partner = (await viewer.get(path)).text, (await nlc.get(path)).text
            assert "You are viewing as NLC · National Library of China — nothing can be changed." in as_viewer
            assert _pieces_named(as_viewer) == _pieces_named(as_partner), path
        page = (await viewer.get(f"/agreements/{agreement['id']}")).text
        assert TEXT["comment-partners"] in page and TEXT["comment-department"] not in page
        write = await viewer.form(f"/comments/agreement/{agreement['id']}", {"body": "should not be saved"})
        assert write.status_code == 403 and "nothing can be changed" in write.text
        api_write = await viewer.api("POST", f"/api/v1/comments/agreement/{agreement['id']}", json={"body": "nor this"})
        assert api_write.status_code == 403
        assert (await viewer.get("/institutions/" + str(world.ndl))).status_code == 404  # what NLC does not see
        stopped = await viewer.form("/view-as/stop", {"next": "/"})
        assert stopped.status_code == 303
        back = (await viewer.get(f"/agreements/{agreement['id']}")).text
        assert "You are viewing as" not in back and TEXT["comment-department"] in back
    from sqlalchemy import select

    from cooperation.audit import AuditEvent

    async with app.state.session_factory() as session:
        actions = list(await session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == world.nlc)))
    assert "view_as" in actions and "view_as_end" in actions
    partner_tries = await nlc.form("/view-as", {"institution_id": str(world.bnf)})
    assert partner_tries.status_code == 403
    director = await client_for("director")  # reads everything, changes nothing: nor views as anyone
    assert (await director.form("/view-as", {"institution_id": str(world.nlc)})).status_code == 403


def _pieces_named(html: str) -> set[str]:
    """The ids of the records and pieces a page names (links and data-piece marks), the banner and forms aside."""
    import re

    return set(re.findall(r'(?:href="/[a-z-]+/|data-piece=")([0-9a-f-]{36})', html))


async def test_follow_up_actions_have_an_audience_too(app, client_for, world, people):
    """The department's own actions stay with it; a shared one reaches the record's partners; an action NLC is
    responsible for is NLC's (and the department's), never BnF's — in the list, NLC's "my actions" and its webhooks."""
    from datetime import date, timedelta

    coordinator, nlc, bnf, agreement, _, _ = await _pieces(client_for, world, people)
    url = f"/api/v1/follow-ups/agreement/{agreement['id']}"
    soon = (date.today() + timedelta(days=10)).isoformat()
    made = {
        "internal": await coordinator.api(
            "POST", url, json={"text": "Check the gift budget", "responsible_institution_id": str(world.home)}
        ),
        "shared": await coordinator.api(
            "POST", url, json={"text": "Send the 2026 plan", "responsible_institution_id": str(world.home), "audience": "partners"}
        ),
        "nlc": await coordinator.api(
            "POST", url, json={"text": "NLC sends its shipment list", "responsible_institution_id": str(world.nlc), "due_on": soon}
        ),
    }
    assert {k: v.json()["audience"] for k, v in made.items()} == {"internal": "department", "shared": "partners", "nlc": "partners"}
    texts = {
        reader: {f["text"] for f in (await client.api("GET", url)).json()}
        for reader, client in (("coordinator", coordinator), ("nlc", nlc), ("bnf", bnf))
    }
    assert texts["coordinator"] == {"Check the gift budget", "Send the 2026 plan", "NLC sends its shipment list"}
    assert texts["nlc"] == {"Send the 2026 plan", "NLC sends its shipment list"}
    assert texts["bnf"] == {"Send the 2026 plan"}
    assert [f["text"] for f in (await nlc.api("GET", "/api/v1/follow-ups/mine")).json()] == ["NLC sends its shipment list"]
    internal = made["internal"].json()
    hidden = await nlc.api("PATCH", f"/api/v1/follow-ups/{internal['id']}", json={"status": "done", "version": internal["version"]})
    assert hidden.status_code == 404


async def test_progress_notes_have_an_audience(client_for, world):
    """A correction note on a project's progress: the department's stays with it; a shared one reaches the project's
    partners; a participant's own note reaches the department and that participant, never another participant."""
    coordinator, nlc, bnf = await client_for("coordinator"), await client_for("partner_a"), await client_for("partner_b")
    project = (
        await coordinator.api(
            "POST",
            "/api/v1/projects",
            json={
                "name": "Ancient books platform",
                "lead_institution_id": str(world.nlc),
                "starts_on": "2025-01-01",
                "ends_on": "2026-12-31",
                "participants": [{"institution_id": str(world.home), "role": "contributor"}, {"institution_id": str(world.bnf)}],
                "shared": True,
            },
        )
    ).json()
    url = f"/api/v1/projects/{project['id']}/progress"

    async def report(client, institution, day, volumes, note, **extra):
        answer = await client.api(
            "POST", url, json={"institution_id": str(institution), "as_of": day, "volumes": volumes, "correction_note": note, **extra}
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    await report(coordinator, world.home, "2025-03-31", 100, "Internal: the scanner broke in March")
    await report(coordinator, world.home, "2025-04-30", 200, "Shared: the new scanner arrived", note_audience="partners")
    await report(nlc, world.nlc, "2025-04-30", 300, "NLC: our April batch was late")
    made = (await coordinator.api("GET", f"/api/v1/projects/{project['id']}")).json()
    assert {r["correction_note"]: r["note_audience"] for r in made["recent_reports"] if r["correction_note"]} == {
        "Internal: the scanner broke in March": "department",
        "Shared: the new scanner arrived": "partners",
        "NLC: our April batch was late": "partners",
    }
    seen_by = {
        "Internal: the scanner broke in March": {"coordinator"},
        "Shared: the new scanner arrived": {"coordinator", "nlc", "bnf"},
        "NLC: our April batch was late": {"coordinator", "nlc"},
    }
    for reader, client in (("coordinator", coordinator), ("nlc", nlc), ("bnf", bnf)):
        page = (await client.get(f"/projects/{project['id']}")).text
        api = (await client.api("GET", f"/api/v1/projects/{project['id']}")).text
        for note, readers in seen_by.items():
            assert (note in page, note in api) == (reader in readers,) * 2, (note, reader)
    # The form says who will read the note: staff choose, a partner is told.
    assert 'name="note_audience"' in (await coordinator.get(f"/projects/{project['id']}")).text
    assert "not by other partners" in (await nlc.get(f"/projects/{project['id']}")).text
