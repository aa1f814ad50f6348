"""Delegation visits through the API: the seed visit round trip, lifecycle and date rules, overlaps, agreement checks."""

import re
import uuid
from datetime import date, timedelta

import pytest

from cooperation.errors import TransitionRefused
from exchanges import services
from exchanges.schemas import VisitTransitionIn
from tests.agreements.helpers import agreement_payload
from tests.exchanges.helpers import seed_visit_payload


async def test_seed_visit_round_trip(client_for, world, people):
    coordinator = await client_for("coordinator")
    created = await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))
    assert created.status_code == 201, created.text
    visit = (await coordinator.api("GET", f"/api/v1/visits/{created.json()['id']}")).json()
    assert (visit["starts_on"], visit["ends_on"], visit["days"]) == ("2025-11-26", "2025-11-29", 4)
    assert (visit["host_code"], visit["visiting_code"], visit["visiting_name_native"]) == ("NLV", "NLC", "中国国家图书馆")
    assert visit["city"] == "Hà Nội" and visit["purpose"] == "Trao đổi kinh nghiệm chuyên môn · 交流业务经验"
    assert [(p["name"], p["side"], p["role"]) for p in visit["participants"]] == [
        ("Rong Jie", "delegation", "head_of_delegation"),
        ("Luo Chong", "delegation", "member"),
        ("Nguyen Xuan Dung", "host", "chair"),
        ("Nguyen Ngoc Anh", "host", "participant"),
    ]
    # Positions are kept as they were at the time of the visit.
    assert visit["participants"][0]["position_at_time"] == "Director, Department of Stacks Management and Reading Services"
    assert visit["participants"][2]["name_native"] == "Nguyễn Xuân Dũng"
    assert [a["title"] for a in visit["agenda"]] == [
        "Phiên làm việc · 工作会议",
        "Smart library services of the NLC",
        "中华古籍智慧化服务平台",
    ]
    assert visit["agenda"][2]["presenters"] == ["Luo Chong"]
    assert visit["topics"] == ["Smart library", "RFID", "AR/VR", "Ancient books"]
    assert visit["outcomes"][0] == {"text": "Hướng hợp tác mới: mô hình thư viện thông minh", "audience": "department"}
    assert [g["description"] for g in visit["gifts"]] == ["Quà lưu niệm", "纪念品"]
    assert visit["status"] == "proposed"
    found = (await coordinator.api("GET", "/api/v1/visits?q=thu%20vien%20thong%20minh")).json()
    assert found["total"] == 0  # outcomes are not searched; purpose and theme are
    found = (await coordinator.api("GET", "/api/v1/visits?q=digital%20environment")).json()
    assert [v["title"] for v in found["items"]] == ["Working visit of National Library of China experts"]


async def test_dates_and_people_are_checked(client_for, world, people):
    coordinator = await client_for("coordinator")
    bad = seed_visit_payload(world, people, starts_on="2025-11-29", ends_on="2025-11-26")
    response = await coordinator.api("POST", "/api/v1/visits", json=bad)
    assert response.status_code == 422 and response.json()["errors"]["ends_on"] == "the visit cannot end before it starts"
    outside = seed_visit_payload(world, people)
    outside["agenda"][0]["day"] = "2025-12-01"
    errors = (await coordinator.api("POST", "/api/v1/visits", json=outside)).json()["errors"]
    assert errors["agenda.0.day"] == "must fall within the visit's dates"
    wrong_direction = seed_visit_payload(world, people, direction="outgoing")
    assert "visiting_institution_id" in (await coordinator.api("POST", "/api/v1/visits", json=wrong_direction)).json()["errors"]
    no_currency = seed_visit_payload(world, people, budget_amount="1500.00")
    assert "budget_currency" in (await coordinator.api("POST", "/api/v1/visits", json=no_currency)).json()["errors"]
    assert (await coordinator.api("GET", "/api/v1/visits")).json()["total"] == 0


async def test_overlapping_visit_warns_and_a_coordinator_confirms(client_for, world, people):
    coordinator = await client_for("coordinator")
    assert (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).status_code == 201
    second = seed_visit_payload(world, people, title="Another meeting", starts_on="2025-11-28", ends_on="2025-11-30", agenda=[])
    warned = await coordinator.api("POST", "/api/v1/visits", json=second)
    assert warned.status_code == 409
    assert "Rong Jie is also in “Working visit of National Library of China experts” (26–29 Nov 2025)" in warned.json()["detail"]
    confirmed = await coordinator.api("POST", "/api/v1/visits", json={**second, "confirm_overlaps": True})
    assert confirmed.status_code == 201


async def test_agreement_not_in_force_is_flagged(client_for, world, people):
    coordinator = await client_for("coordinator")
    draft = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people, agreement_id=draft["id"]))).json()
    assert visit["agreement"]["in_force_on_visit_dates"] is False
    assert visit["warnings"] == ["Agreement NLV-NLC-2025 was not in force on the visit's dates."]


async def test_lifecycle(db, client_for, world, people):
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    visit["id"] = uuid.UUID(visit["id"])
    principal = world.principals["coordinator"]
    with pytest.raises(TransitionRefused, match="runs until 29 November 2025"):
        await services.transition(db, principal, visit["id"], VisitTransitionIn(to="completed", version=1), on=date(2025, 11, 1))
    await services.transition(db, principal, visit["id"], VisitTransitionIn(to="confirmed", version=1), on=date(2025, 11, 1))
    with pytest.raises(TransitionRefused, match="under way only between"):
        await services.transition(db, principal, visit["id"], VisitTransitionIn(to="under_way", version=2), on=date(2025, 11, 1))
    await services.transition(db, principal, visit["id"], VisitTransitionIn(to="under_way", version=2), on=date(2025, 11, 27))
    with pytest.raises(TransitionRefused, match="runs until 29 November 2025"):
        await services.transition(db, principal, visit["id"], VisitTransitionIn(to="completed", version=3), on=date(2025, 11, 28))
    await services.transition(db, principal, visit["id"], VisitTransitionIn(to="completed", version=3), on=date(2025, 11, 30))
    done = (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}")).json()
    assert done["status"] == "completed" and done["allowed_transitions"] == []
    cancel = (
        await coordinator.api(
            "POST",
            "/api/v1/visits",
            json=seed_visit_payload(world, people, title="Later", starts_on="2026-05-01", ends_on="2026-05-02", agenda=[]),
        )
    ).json()
    refused = await coordinator.api("POST", f"/api/v1/visits/{cancel['id']}/transition", json={"to": "cancelled", "version": 1})
    assert refused.status_code == 409 and "note is required" in refused.json()["detail"]


async def test_a_visit_recorded_after_it_happened_is_completed_directly(client_for, world, people):
    """The seed visit (26–29 Nov 2025) was logged days later: a coordinator records it as completed, with its history."""
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    assert visit["status"] == "proposed"
    # Past its dates, it can be confirmed or completed, never "under way".
    assert "completed" in visit["allowed_transitions"] and "under_way" not in visit["allowed_transitions"]
    confirmed = await coordinator.api("POST", f"/api/v1/visits/{visit['id']}/transition", json={"to": "confirmed", "version": 1})
    assert confirmed.status_code == 200, confirmed.text
    again = (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}")).json()
    assert again["allowed_transitions"] == ["completed", "proposed", "cancelled"]
    done = await coordinator.api("POST", f"/api/v1/visits/{visit['id']}/transition", json={"to": "completed", "version": 2})
    assert done.status_code == 200, done.text
    after = (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}")).json()
    assert after["status"] == "completed" and after["allowed_transitions"] == []
    history = (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}/history")).json()
    assert history[0]["summary"] == "confirmed → completed" and history[0]["actor_name"] == "Coordinator"
    # A visit still to come cannot be completed, from any status.
    future = seed_visit_payload(world, people, title="Later", starts_on="2031-05-01", ends_on="2031-05-02", agenda=[])
    later = (await coordinator.api("POST", "/api/v1/visits", json=future)).json()
    assert "completed" not in later["allowed_transitions"]
    refused = await coordinator.api("POST", f"/api/v1/visits/{later['id']}/transition", json={"to": "completed", "version": 1})
    assert refused.status_code == 409 and "runs until 2 May 2031" in refused.json()["detail"]
    # Its delegation is closed, and the page says why (not that only the visiting side may change it).
    page = await coordinator.get(f"/visits/{visit['id']}/delegation")
    assert page.status_code == 409 and "The visit is completed" in page.text


async def test_partners_see_only_their_own_visits(client_for, world, people):
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    partner_a = await client_for("partner_a")
    partner_b = await client_for("partner_b")
    assert (await partner_a.api("GET", f"/api/v1/visits/{visit['id']}")).status_code == 200
    assert (await partner_a.api("GET", "/api/v1/visits")).json()["total"] == 1
    assert (await partner_b.api("GET", f"/api/v1/visits/{visit['id']}")).status_code == 404
    assert (await partner_b.api("GET", "/api/v1/visits")).json()["total"] == 0
    assert (
        await partner_a.api("PUT", f"/api/v1/visits/{visit['id']}", json={**seed_visit_payload(world, people), "version": 1})
    ).status_code == 403


async def test_summary_page_reads_like_the_article(client_for, world, people):
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    page = await coordinator.get(f"/visits/{visit['id']}")
    assert page.status_code == 200
    text = page.text
    assert "26–29 Nov 2025, Hà Nội" in text
    assert "a delegation of the National Library of China (中国国家图书馆) made a 4-day working visit" in text
    assert "<strong>Rong Jie</strong>, Director, Department of Stacks Management and Reading Services (head of delegation)" in text
    assert "<strong>Nguyễn Xuân Dũng</strong> (Nguyen Xuan Dung), Director, who chaired the working session" in text
    assert "中华古籍智慧化服务平台" in text and "Quà lưu niệm</a> (given)" in text
    listing = await coordinator.get("/visits?direction=incoming")
    assert "Working visit of National Library of China experts" in listing.text and "NLC → NLV" in listing.text
    partner_b = await client_for("partner_b")
    assert (await partner_b.get(f"/visits/{visit['id']}")).status_code == 404


async def test_follow_ups_on_a_visit(client_for, world, people):
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    ours = await coordinator.api(
        "POST",
        f"/api/v1/follow-ups/visit/{visit['id']}",
        json={
            "text": "Propose a 2026–2028 exchange programme",
            "responsible_institution_id": str(world.home),
            "responsible_person_id": people["anh"],
            "due_on": "2026-03-31",
            "audience": "partners",  # the department's own action, shared with NLC (else NLC would not see it)
        },
    )
    assert ours.status_code == 201, ours.text
    theirs = (
        await coordinator.api(
            "POST",
            f"/api/v1/follow-ups/visit/{visit['id']}",
            json={
                "text": "Send the ancient-books platform documentation",
                "responsible_institution_id": str(world.nlc),
                "responsible_person_id": people["luo"],
                "due_on": "2026-01-31",
            },
        )
    ).json()
    mismatch = await coordinator.api(
        "POST",
        f"/api/v1/follow-ups/visit/{visit['id']}",
        json={"text": "x", "responsible_institution_id": str(world.home), "responsible_person_id": people["luo"]},
    )
    assert mismatch.status_code == 422 and "another institution" in mismatch.json()["errors"]["responsible_person_id"]
    partner = await client_for("partner_a")
    mine = (await partner.api("GET", "/api/v1/follow-ups/mine")).json()
    assert [f["text"] for f in mine] == ["Send the ancient-books platform documentation"]
    on_the_visit = {f["text"]: f["may_update"] for f in (await partner.api("GET", f"/api/v1/follow-ups/visit/{visit['id']}")).json()}
    assert on_the_visit == {"Propose a 2026–2028 exchange programme": False, "Send the ancient-books platform documentation": True}
    partner_page = await partner.get(f"/visits/{visit['id']}")
    assert partner_page.text.count('/progress" class="filters m-0"') == 1  # a status form only on the action NLC owns
    assert mine[0]["overdue"] is True  # due 2026-01-31, still open
    home = await partner.get("/")
    assert "Send the ancient-books platform documentation" in home.text and "overdue" in home.text
    done = await partner.api(
        "PATCH", f"/api/v1/follow-ups/{theirs['id']}", json={"status": "done", "version": 1, "notes": "Sent on 20 Jan"}
    )
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["overdue"] is False
    refused = await partner.api("PATCH", f"/api/v1/follow-ups/{ours.json()['id']}", json={"status": "done", "version": 1})
    assert refused.status_code == 403
    assert (
        await partner.api(
            "POST", f"/api/v1/follow-ups/visit/{visit['id']}", json={"text": "x", "responsible_institution_id": str(world.nlc)}
        )
    ).status_code == 403
    outsider = await client_for("partner_b")
    assert (await outsider.api("GET", f"/api/v1/follow-ups/visit/{visit['id']}")).status_code == 404
    page = await coordinator.get(f"/visits/{visit['id']}")
    assert "Propose a 2026–2028 exchange programme" in page.text and "Sent on 20 Jan" in page.text
    history = (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}/history")).json()
    assert any(h["action"] == "follow_up_progress" and h["actor_name"] == "Partner A" for h in history)


def jpeg_with_gps(size=(1200, 800)) -> bytes:
    import io

    from PIL import Image

    image = Image.new("RGB", size, (30, 90, 160))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x8825] = {1: "N", 2: (21.0, 1.0, 30.0), 3: "E", 4: (105.0, 50.0, 40.0)}  # GPS: Hà Nội
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


async def test_photos_are_images_without_metadata_with_thumbnails(client_for, world, people, settings):
    import io

    from PIL import Image

    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get(0x8825)  # the test photo does carry a GPS position
    partner = await client_for("partner_a")
    added = await partner.api(
        "POST",
        f"/api/v1/visits/{visit['id']}/photos",
        files={"file": ("2025-11-30-hop-tac-02.jpg", original, "image/jpeg")},
        data={"caption": "Vue d’ensemble de la séance de travail · 工作会议全景"},
    )
    assert added.status_code == 201, added.text
    photo = added.json()
    assert (photo["width"], photo["height"], photo["position"]) == (1200, 800, 0)
    stored = await coordinator.get(f"/attachments/{photo['attachment_id']}")
    cleaned = Image.open(io.BytesIO(stored.content))
    assert cleaned.format == "JPEG" and not cleaned.getexif()  # no camera, no GPS
    thumb = await coordinator.get(f"/visits/photos/{photo['id']}/thumbnail")
    assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) == 480
    second = await coordinator.api(
        "POST",
        f"/api/v1/visits/{visit['id']}/photos",
        files={"file": ("b.png", _png(), "image/png")},
        data={"caption": "Ông Nguyễn Xuân Dũng chủ trì cuộc họp"},
    )
    listed = (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}/photos")).json()
    assert [p["caption"] for p in listed] == [
        "Vue d’ensemble de la séance de travail · 工作会议全景",
        "Ông Nguyễn Xuân Dũng chủ trì cuộc họp",
    ]
    assert second.status_code == 201
    page = await coordinator.get(f"/visits/{visit['id']}")
    assert "工作会议全景" in page.text and f"/visits/photos/{photo['id']}/thumbnail" in page.text
    not_image = await coordinator.api(
        "POST", f"/api/v1/visits/{visit['id']}/photos", files={"file": ("notes.jpg", b"%PDF-1.4 not a photo", "image/jpeg")}
    )
    assert not_image.status_code == 422 and "not an image" in not_image.json()["errors"]["file"]
    too_large = await coordinator.api(
        "POST",
        f"/api/v1/visits/{visit['id']}/photos",
        files={"file": ("big.jpg", original + b"\0" * settings.upload_max_bytes, "image/jpeg")},
    )
    assert too_large.status_code == 422 and "limit" in too_large.json()["errors"]["file"]
    outsider = await client_for("partner_b")
    assert (
        await outsider.api("POST", f"/api/v1/visits/{visit['id']}/photos", files={"file": ("x.jpg", original, "image/jpeg")})
    ).status_code == 404
    assert (await outsider.get(f"/visits/photos/{photo['id']}/thumbnail")).status_code == 404


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (300, 200), (200, 50, 50, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_calendar_feed(app, client_for, world, people):
    import re

    import icalendar

    from tests.conftest import http_client

    coordinator = await client_for("coordinator")
    visit = (
        await coordinator.api(
            "POST", "/api/v1/visits", json=seed_visit_payload(world, people, starts_on="2026-12-07", ends_on="2026-12-10", agenda=[])
        )
    ).json()
    await coordinator.api(
        "POST",
        f"/api/v1/follow-ups/visit/{visit['id']}",
        json={
            "text": "Send the ancient-books platform documentation",
            "responsible_institution_id": str(world.nlc),
            "due_on": "2027-01-31",
        },
    )
    partner = await client_for("partner_a")
    page = await partner.form("/account/calendar", {})
    url = re.search(r'<code id="feed-url">([^<]+)</code>', page.text).group(1)
    assert f'href="webcal://testserver{url.split("testserver", 1)[1]}"' in page.text  # subscribe in one click
    path = url.split("testserver", 1)[1]
    async with http_client(app) as calendar_program:  # no cookies: the secret in the address is the credential
        response = await calendar_program.get(path)
        assert response.status_code == 200 and response.headers["content-type"] == "text/calendar; charset=utf-8"
        parsed = icalendar.Calendar.from_ical(response.content)
        events = {str(e["summary"]): e for e in parsed.walk("VEVENT")}
        visit_event = events["Visit: Working visit of National Library of China experts (NLC → NLV)"]
        assert visit_event.decoded("dtstart") == date(2026, 12, 7)
        assert visit_event.decoded("dtend") == date(2026, 12, 11)  # all-day range: the day after the last day
        assert "Rong Jie (head of delegation, NLC)" in str(visit_event["description"])
        assert "Nguyễn Xuân Dũng (chair, NLV)" in str(visit_event["description"])
        due = events["Due: Send the ancient-books platform documentation"]
        assert due.decoded("dtstart") == date(2027, 1, 31)
        assert str(parsed["x-wr-calname"]) == "LibCoop · international cooperation"
        assert visit_event["uid"] == f"visit-{visit['id']}@libcoop" and visit_event["sequence"] == 0
        # The visit is edited: the same event (its UID), a higher SEQUENCE, so calendar programs replace their copy.
        changed = {**seed_visit_payload(world, people, starts_on="2026-12-08", ends_on="2026-12-10", agenda=[]), "version": 1}
        assert (await coordinator.api("PUT", f"/api/v1/visits/{visit['id']}", json=changed)).status_code == 200
        again = icalendar.Calendar.from_ical((await calendar_program.get(path)).content)
        (moved,) = [e for e in again.walk("VEVENT") if e["uid"] == visit_event["uid"]]
        assert moved["sequence"] == 1 and moved.decoded("dtstart") == date(2026, 12, 8) and moved.get("last-modified")
        await partner.form("/account/calendar/revoke", {})
        assert (await calendar_program.get(path)).status_code == 404
    outsider = await client_for("partner_b")
    page_b = await outsider.form("/account/calendar", {})
    path_b = re.search(r'<code id="feed-url">([^<]+)</code>', page_b.text).group(1).split("testserver", 1)[1]
    async with http_client(app) as calendar_program:
        assert "Working visit" not in (await calendar_program.get(path_b)).text


async def test_month_view(client_for, world, people):
    coordinator = await client_for("coordinator")
    await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))
    page = await coordinator.get("/calendar?month=2025-11")
    assert page.status_code == 200 and "November 2025" in page.text
    assert page.text.count("Visit: Working visit of National Library of China experts") == 5  # four days in the grid + the agenda
    assert "26–29 Nov 2025" in page.text
    bad = await coordinator.get("/calendar?month=November")
    assert bad.status_code == 422 and "is not a month" in bad.text


async def test_visit_serving_a_commitment_shows_on_the_agreement(client_for, world, people):
    coordinator = await client_for("coordinator")
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    commitment = (
        await coordinator.api(
            "POST", f"/api/v1/agreements/{agreement['id']}/commitments", json={"text": "One expert visit each way per year"}
        )
    ).json()
    other = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc], reference="OTHER"))).json()
    wrong = await coordinator.api(
        "POST", "/api/v1/visits", json=seed_visit_payload(world, people, agreement_id=other["id"], commitment_ids=[commitment["id"]])
    )
    assert wrong.status_code == 422 and "commitment_ids" in wrong.json()["errors"]
    visit = await coordinator.api(
        "POST", "/api/v1/visits", json=seed_visit_payload(world, people, agreement_id=agreement["id"], commitment_ids=[commitment["id"]])
    )
    assert visit.status_code == 201, visit.text
    linked = (await coordinator.api("GET", f"/api/v1/agreements/{agreement['id']}")).json()["commitments"][0]["links"]
    assert [(link["record_type"], link["label"]) for link in linked] == [
        ("visit", "Visit “Working visit of National Library of China experts” (2025-11-26 – 2025-11-29)")
    ]


async def test_partner_sets_its_own_delegation(client_for, world, people):
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    partner = await client_for("partner_a")
    interpreter = (
        await partner.api(
            "POST",
            "/api/v1/people",
            json={"name": "Wang Fang", "name_native": "王芳", "institution_id": str(world.nlc), "position": "Interpreter"},
        )
    ).json()
    changed = await partner.api(
        "PUT",
        f"/api/v1/visits/{visit['id']}/delegation",
        json={
            "version": 1,
            "members": [
                {"person_id": people["rong"], "role": "head_of_delegation"},
                {"person_id": people["luo"]},
                {"person_id": interpreter["id"], "role": "interpreter"},
            ],
        },
    )
    assert changed.status_code == 200, changed.text
    delegation = [(p["name_native"] or p["name"], p["role"]) for p in changed.json()["participants"] if p["side"] == "delegation"]
    assert delegation == [("Rong Jie", "head_of_delegation"), ("Luo Chong", "member"), ("王芳", "interpreter")]
    hosts = [p["name"] for p in changed.json()["participants"] if p["side"] == "host"]
    assert hosts == ["Nguyen Xuan Dung", "Nguyen Ngoc Anh"]  # the host side is untouched
    foreign = await partner.api(
        "PUT", f"/api/v1/visits/{visit['id']}/delegation", json={"version": 2, "members": [{"person_id": people["dung"]}]}
    )
    assert foreign.status_code == 422 and "own institution" in foreign.json()["errors"]["members.0.person_id"]
    outsider = await client_for("partner_b")
    assert (await outsider.api("PUT", f"/api/v1/visits/{visit['id']}/delegation", json={"version": 2, "members": []})).status_code == 404
    history = (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}/history")).json()
    assert history[0]["action"] == "update_delegation" and history[0]["actor_name"] == "Partner A"


async def test_visit_form_keeps_input_and_names_errors(client_for, world, people):
    coordinator = await client_for("coordinator")
    response = await coordinator.form(
        "/visits",
        {
            "title": "Visite",
            "direction": "incoming",
            "host_institution_id": str(world.home),
            "visiting_institution_id": str(world.nlc),
            "starts_on": "2026-02-10",
            "ends_on": "2026-02-08",
            "delegation-0-person_id": people["rong"],
            "delegation-0-role": "",
            "delegation-1-person_id": people["luo"],
            "delegation-1-name": "Luo Chong",
            "delegation-1-role": "member",
            "host-0-name": "Nguyễn Ngọc Ánh",
            "host-0-role": "participant",
            "gift-0-direction": "stolen",
            "gift-0-description": "a book",
            "agenda-0-day": "2026-02-09",
            "agenda-0-starts_at": "10:30",
            "agenda-0-title": "Opening",
        },
    )
    assert response.status_code == 422
    assert "Delegation 1 › Role: is required" in response.text
    assert "Delegation 2 › Name: choose a person or type a new one&#39;s name, not both" in response.text
    assert 'value="Nguyễn Ngọc Ánh"' in response.text  # the new person as typed, not yet in the register
    assert "Gifts 1 › Direction:" in response.text and 'value="a book"' in response.text
    assert 'value="Opening"' in response.text and 'value="10:30"' in response.text
    assert (await coordinator.api("GET", "/api/v1/visits")).json()["total"] == 0
    partner = await client_for("partner_a")
    assert (await partner.get("/visits/new")).status_code == 403


async def test_new_people_join_the_register_with_the_visit_and_only_with_it(client_for, world, people):
    """A visit names people not yet registered: they are added in the visit's own transaction, at their side's
    institution unless another is chosen; a visit refused adds nobody."""
    coordinator = await client_for("coordinator")
    before = (await coordinator.api("GET", "/api/v1/people?per_page=100")).json()["total"]
    form = {
        "title": "Working visit",
        "direction": "incoming",
        "host_institution_id": str(world.home),
        "visiting_institution_id": str(world.nlc),
        "starts_on": "2026-03-10",
        "ends_on": "2026-03-08",  # refused: ends before it starts
        "delegation-0-name": "Wang Lei",
        "delegation-0-name_native": "王磊",
        "delegation-0-position": "Head of Digital Services",
        "delegation-0-role": "head_of_delegation",
        "host-0-person_id": people["dung"],
        "host-0-role": "chair",
        "host-1-name": "Trần Thu Hà",
        "host-1-role": "member",
    }
    refused = await coordinator.form("/visits", form)
    assert refused.status_code == 422 and 'value="王磊"' in refused.text
    assert (await coordinator.api("GET", "/api/v1/people?per_page=100")).json()["total"] == before
    saved = await coordinator.form("/visits", {**form, "ends_on": "2026-03-12"})
    assert saved.status_code == 303, saved.text
    visit = (await coordinator.api("GET", saved.headers["location"].replace("/visits", "/api/v1/visits"))).json()
    by_name = {p["name"]: p for p in visit["participants"]}
    assert by_name["Wang Lei"]["side"] == "delegation" and by_name["Wang Lei"]["position_at_time"] == "Head of Digital Services"
    assert by_name["Trần Thu Hà"]["side"] == "host" and by_name["Nguyen Xuan Dung"]["role"] == "chair"
    wang = (await coordinator.api("GET", f"/api/v1/people/{by_name['Wang Lei']['person_id']}")).json()
    assert (wang["name_native"], wang["institution_id"]) == ("王磊", str(world.nlc))
    ha = (await coordinator.api("GET", f"/api/v1/people/{by_name['Trần Thu Hà']['person_id']}")).json()
    assert ha["institution_id"] == str(world.home)
    assert (await coordinator.api("GET", "/api/v1/people?per_page=100")).json()["total"] == before + 2


async def test_the_visit_form_grows_with_and_without_javascript(client_for, world, people):
    coordinator = await client_for("coordinator")
    page = await coordinator.get("/visits/new")
    assert 'name="delegation-1-name"' in page.text and 'name="delegation-2-name"' not in page.text
    # Without JavaScript "add" posts the form: it comes back with what was typed and one row more, the new one focused.
    typed = {"title": "Draft", "delegation-0-name": "Wang Lei", "delegation-0-role": "head_of_delegation", "delegation-1-name": ""}
    typed |= {"delegation-1-role": "member", "add_row": "delegation"}
    grown = await coordinator.form("/visits", typed)
    assert grown.status_code == 200 and 'value="Wang Lei"' in grown.text and 'value="Draft"' in grown.text
    assert (
        'name="delegation-2-name"' in grown.text and 'id="f-delegation-2-person_id" name="delegation-2-person_id" autofocus' in grown.text
    )
    assert (await coordinator.api("GET", "/api/v1/visits")).json()["total"] == 0
    # With htmx the row alone, and the button that asks for the next one.
    row = await coordinator.get("/visits/rows/host?index=3", headers={"HX-Request": "true"})
    assert 'name="host-3-name"' in row.text and 'hx-swap-oob="true"' in row.text and "index=4" in row.text
    assert (await coordinator.get("/visits/rows/nothing?index=1")).status_code == 404
    partner = await client_for("partner_a")
    assert (await partner.get("/visits/rows/host?index=1")).status_code == 403


async def test_the_overlap_warning_comes_beside_the_dates(client_for, world, people):
    coordinator = await client_for("coordinator")
    created = await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))
    assert created.status_code == 201, created.text
    stored = created.json()
    asked = {"starts_on": stored["starts_on"], "ends_on": stored["ends_on"], "host-0-person_id": people["dung"]}
    warned = await coordinator.form("/visits/overlaps", asked)
    assert warned.status_code == 200 and "Nguyen Xuan Dung is also in" in warned.text
    # Nothing at all when nobody overlaps (the box hides itself when empty): the visit with itself, half-typed dates.
    assert (await coordinator.form("/visits/overlaps", {**asked, "visit_id": stored["id"]})).text == ""
    assert (await coordinator.form("/visits/overlaps", {**asked, "ends_on": "2025-1"})).text == ""


async def test_topics_and_tags_keep_what_was_typed(client_for, world, people):
    coordinator = await client_for("coordinator")
    payload = seed_visit_payload(world, people, topics=["IoT", "AR/VR", "iot", "  Smart   library "])
    created = await coordinator.api("POST", "/api/v1/visits", json=payload)
    assert created.status_code == 201, created.text
    visit = created.json()
    assert visit["topics"] == ["IoT", "AR/VR", "Smart library"]  # compared without case, kept as typed
    found = (await coordinator.api("GET", "/api/v1/visits?q=iot")).json()
    assert [v["id"] for v in found["items"]] == [visit["id"]]
    agreement = await coordinator.api(
        "POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc], scope_tags=["RFID", "rfid", "Digitization"])
    )
    assert agreement.json()["scope_tags"] == ["RFID", "Digitization"]


async def test_a_follow_up_never_names_a_record_its_institution_cannot_see(db, client_for, world, people):
    """A follow-up on a record hidden from its responsible institution leaked its text and link to that partner (home
    page, "mine", calendar). Assigning one is now refused, and actions stored before are listed only with their record."""
    from cooperation.followups import FollowUp

    coordinator = await client_for("coordinator")
    internal = (
        await coordinator.api(
            "POST",
            "/api/v1/agreements",
            json=agreement_payload([world.home, world.nlc], reference="NLV-NLC-INT", confidentiality="internal"),
        )
    ).json()
    refused = await coordinator.api(
        "POST",
        f"/api/v1/follow-ups/agreement/{internal['id']}",
        json={"text": "Assess the NLC offer internally", "responsible_institution_id": str(world.nlc), "due_on": "2026-01-15"},
    )
    assert refused.status_code == 422 and "does not take part" in refused.json()["errors"]["responsible_institution_id"]
    bnf_visit = (
        await coordinator.api(
            "POST",
            "/api/v1/visits",
            json=seed_visit_payload(
                world,
                people,
                title="Visite de la BnF",
                visiting_institution_id=str(world.bnf),
                participants=[{"person_id": people["anh"], "side": "host", "role": "chair"}],
                agenda=[],
            ),
        )
    ).json()
    other = await coordinator.api(
        "POST",
        f"/api/v1/follow-ups/visit/{bnf_visit['id']}",
        json={"text": "Send the BnF programme", "responsible_institution_id": str(world.nlc)},
    )
    assert other.status_code == 422 and "responsible_institution_id" in other.json()["errors"]
    ours = await coordinator.api(
        "POST",
        f"/api/v1/follow-ups/agreement/{internal['id']}",
        json={"text": "Our own internal note", "responsible_institution_id": str(world.home), "due_on": "2026-01-15"},
    )
    assert ours.status_code == 201  # the home institution sees every record
    # Stored before the rule: listed to nobody who cannot see its record.
    db.add(
        FollowUp(
            owner_type="agreement",
            owner_id=uuid.UUID(internal["id"]),
            text="Assess the NLC offer internally",
            responsible_institution_id=world.nlc,
            due_on=date(2026, 1, 15),
        )
    )
    await db.commit()
    partner = await client_for("partner_a")
    mine = (await partner.api("GET", "/api/v1/follow-ups/mine")).json()
    assert all("NLC offer" not in f["text"] for f in mine)
    assert "NLC offer" not in (await partner.get("/")).text
    assert "NLC offer" not in (await partner.get("/calendar?month=2026-01")).text
    on_record = (await coordinator.api("GET", f"/api/v1/follow-ups/agreement/{internal['id']}")).json()
    assert "Assess the NLC offer internally" in {f["text"] for f in on_record}  # still on its record, for those who see it


async def test_a_visit_logged_after_the_fact_is_completed_as_it_is_saved(client_for, world):
    """Logged on the page after it happened, a visit started as "Proposed" and had to be completed separately (the
    portal box did nothing until then). The form takes the status: as its dates say unless chosen."""
    coordinator = await client_for("coordinator")
    form = await coordinator.get("/visits/new")
    assert 'id="f-status"' in form.text and "As its dates say" in form.text
    base = {
        "title": "Working visit of NLC experts",
        "direction": "incoming",
        "host_institution_id": str(world.home),
        "visiting_institution_id": str(world.nlc),
        "starts_on": "2025-11-26",
        "ends_on": "2025-11-29",
    }
    past = await coordinator.form("/visits", base)
    assert past.status_code == 303, past.text[:300]
    page = (await coordinator.get(past.headers["location"])).text
    assert '<span class="badge completed">Completed</span>' in page
    soon = date.today() + timedelta(days=30)
    future = await coordinator.form("/visits", base | {"starts_on": soon.isoformat(), "ends_on": soon.isoformat()})
    assert '<span class="badge proposed">' in (await coordinator.get(future.headers["location"])).text
    chosen = await coordinator.form("/visits", base | {"starts_on": soon.isoformat(), "ends_on": soon.isoformat(), "status": "confirmed"})
    assert '<span class="badge confirmed">' in (await coordinator.get(chosen.headers["location"])).text
    # A status its dates do not allow names the field; the API takes the status too (left out: proposed).
    early = await coordinator.form("/visits", base | {"starts_on": soon.isoformat(), "ends_on": soon.isoformat(), "status": "completed"})
    assert early.status_code == 422 and "cannot be completed before then" in early.text
    api = await coordinator.api("POST", "/api/v1/visits", json=base | {"status": "completed"})
    assert api.status_code == 201 and (await coordinator.api("GET", f"/api/v1/visits/{api.json()['id']}")).json()["status"] == "completed"


async def test_pasted_lines_become_rows_and_actions(client_for, world, story):
    """The people, the programme and what was agreed pasted as lines into the visit's form; follow-ups as lines on
    its page. A preview shows the rows before they are added; a bad line names itself and adds nothing."""
    coordinator = await client_for("coordinator")
    preview = await coordinator.form(
        "/visits/paste/agenda", {"starts_on": "2025-11-26", "paste-agenda": "27/11 09:45 Smart library services — Rong Jie, Luo Chong"}
    )
    assert preview.status_code == 200 and "2025-11-27 09:45" in preview.text and "Rong Jie, Luo Chong" in preview.text
    base = {
        "title": "Pasted visit",
        "direction": "incoming",
        "host_institution_id": str(world.home),
        "visiting_institution_id": str(world.nlc),
        "starts_on": "2025-11-26",
        "ends_on": "2025-11-29",
        "paste-delegation": "Wang Lei, Head of Digital Services\nZhao Min, Librarian",
        "paste-host": "Phạm Thị Lan, Director",
        "paste-agenda": "Opening — Phạm Thị Lan\n27/11 10:00 Digital services — Wang Lei and Zhao Min",
        "paste-outcome": "A joint workshop in 2026\nAn exchange of staff",
        "shared": "1",  # shared with NLC as it is saved: an action NLC is responsible for needs NLC to see the visit
    }
    saved = await coordinator.form("/visits", base)
    assert saved.status_code == 303, saved.text[:500]
    visit = (await coordinator.api("GET", saved.headers["location"].replace("/visits", "/api/v1/visits"))).json()
    assert [(p["name"], p["role"], p["position_at_time"]) for p in visit["participants"]] == [
        ("Wang Lei", "head_of_delegation", "Head of Digital Services"),
        ("Zhao Min", "member", "Librarian"),
        ("Phạm Thị Lan", "chair", "Director"),
    ]
    assert [(a["day"], a["title"], a["presenters"]) for a in visit["agenda"]] == [
        ("2025-11-26", "Opening", ["Phạm Thị Lan"]),
        ("2025-11-27", "Digital services", ["Wang Lei", "Zhao Min"]),
    ]
    assert [o["text"] for o in visit["outcomes"]] == ["A joint workshop in 2026", "An exchange of staff"]
    # A presenter who is not one of the visit's people: the form comes back with the rows, editable, and the error.
    wrong = await coordinator.form("/visits", base | {"title": "Again", "paste-agenda": "Opening — Somebody Else"})
    assert wrong.status_code == 422 and "Somebody Else is not one of the visit&#39;s people" in wrong.text
    assert 'name="agenda-' in wrong.text and 'value="Somebody Else"' in wrong.text
    # Follow-ups as lines: the institution by its code, the due day; one bad line and none is added.
    url = f"/follow-ups/visit/{visit['id']}"
    bad = await coordinator.form(url, {"lines": "Send the documentation — NLC — 2026-01-31\nVisit Paris — BNF"})
    assert bad.status_code == 422 and "BNF is neither an institution of this record" in bad.text
    assert (await coordinator.api("GET", f"/api/v1/follow-ups/visit/{visit['id']}")).json() == []
    added = await coordinator.form(url, {"lines": "Send the documentation — NLC — 2026-01-31\nPropose the 2026 programme"})
    assert added.status_code == 303, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", added.text))[-1500:]
    actions = (await coordinator.api("GET", f"/api/v1/follow-ups/visit/{visit['id']}")).json()
    assert {(a["text"], a["responsible_institution_code"], a["due_on"]) for a in actions} == {
        ("Send the documentation", "NLC", "2026-01-31"),
        ("Propose the 2026 programme", "NLV", None),
    }
