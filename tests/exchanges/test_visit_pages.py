"""Visits worked on from the pages: editing without losing anything, status, follow-ups, a partner's delegation."""

from tests.agreements.helpers import agreement_payload
from tests.exchanges.helpers import seed_visit_payload
from tests.html_forms import form_fields

UNSTORED = ("version", "updated_at")


async def full_seed_visit(coordinator, world, people) -> dict:
    """The seed visit with every field the form has to carry: positions at the time, agenda ends, notes, commitments."""
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    commitment = (
        await coordinator.api("POST", f"/api/v1/agreements/{agreement['id']}/commitments", json={"text": "Exchange experts yearly"})
    ).json()
    payload = seed_visit_payload(world, people, agreement_id=agreement["id"])
    payload["participants"][0]["position_at_time"] = "Giám đốc (2025)"
    payload["participants"][0]["department_at_time"] = "Ban Quản lý kho · 书库管理部"
    payload["agenda"][1] |= {"ends_at": "10:30:00", "place": "Hội trường tầng 2", "notes": "Slides shared afterwards · 会后分享"}
    payload["agenda"][2]["presenters"] = [people["luo"], people["rong"]]
    payload |= {
        "commitment_ids": [commitment["id"]],
        "budget_amount": "25000000.00",
        "budget_currency": "VND",
        "report": "Báo cáo chi tiết\nDòng thứ hai",
    }
    created = await coordinator.api("POST", "/api/v1/visits", json=payload)
    assert created.status_code == 201, created.text
    return created.json()


async def test_saving_the_edit_page_unchanged_changes_nothing(client_for, world, people):
    coordinator = await client_for("coordinator")
    before = await full_seed_visit(coordinator, world, people)
    url = f"/visits/{before['id']}"
    edit = await coordinator.get(url + "/edit")
    assert edit.status_code == 200
    fields = form_fields(edit.text, url)
    saved = await coordinator.form(url, fields)
    assert saved.status_code == 303, saved.text[:2000]
    after = (await coordinator.api("GET", f"/api/v1/visits/{before['id']}")).json()
    assert {k: v for k, v in after.items() if k not in UNSTORED} == {k: v for k, v in before.items() if k not in UNSTORED}

    fields = form_fields((await coordinator.get(url + "/edit")).text, url)
    fields["title"] = "Chuyến thăm làm việc · 工作访问"
    fields["agenda-2-notes"] = "Demonstration of the platform"
    assert (await coordinator.form(url, fields)).status_code == 303
    changed = (await coordinator.api("GET", f"/api/v1/visits/{before['id']}")).json()
    assert changed["title"] == "Chuyến thăm làm việc · 工作访问"
    assert changed["agenda"][2]["notes"] == "Demonstration of the platform"
    assert changed["agenda"][2]["presenters"] == ["Luo Chong", "Rong Jie"]
    # A second tab still holds the version it was read at: what was typed there comes back, with what changed.
    stale = await coordinator.form(url, {**fields, "title": "Overwritten", "city": "Hải Phòng"})
    assert stale.status_code == 409 and "Someone saved this record while you were editing it" in stale.text
    assert (await coordinator.api("GET", f"/api/v1/visits/{before['id']}")).json()["title"] == "Chuyến thăm làm việc · 工作访问"
    kept = form_fields(stale.text, url)
    assert kept["title"] == "Overwritten" and kept["city"] == "Hải Phòng"  # nothing typed is lost
    assert '<td>Title</td><td class="pre-line">Chuyến thăm làm việc · 工作访问</td>' in stale.text
    assert int(kept["version"]) == changed["version"]  # saving again is a deliberate choice, and it works
    assert (await coordinator.form(url, kept)).status_code == 303
    assert (await coordinator.api("GET", f"/api/v1/visits/{before['id']}")).json()["city"] == "Hải Phòng"
    partner = await client_for("partner_a")
    assert (await partner.get(url + "/edit")).status_code == 403
    assert (await partner.form(url, fields)).status_code == 403


async def test_status_changes_from_the_page_with_reasons(client_for, world, people):
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    url = f"/visits/{visit['id']}"
    page = await coordinator.get(url)
    assert "Change status to" in page.text and 'href="' + url + '/edit"' in page.text
    refused = await coordinator.form(url + "/transition", {"to": "under_way", "version": "1"})
    assert refused.status_code == 409 and "A visit that is proposed cannot become under way" in refused.text
    cancelled = await coordinator.form(url + "/transition", {"to": "cancelled", "version": "1"})
    assert cancelled.status_code == 409 and "why" in cancelled.text.lower()
    assert (await coordinator.form(url + "/transition", {"to": "confirmed", "version": "1"})).status_code == 303
    assert (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}")).json()["status"] == "confirmed"
    partner = await client_for("partner_a")
    assert "Change status to" not in (await partner.get(url)).text
    assert (await partner.form(url + "/transition", {"to": "cancelled", "version": "2", "note": "x"})).status_code == 403


async def test_follow_up_added_from_the_visit_page(client_for, world, people):
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    url = f"/visits/{visit['id']}"
    action = {
        "text": "Gửi tài liệu nền tảng · 发送平台资料",
        "responsible_institution_id": str(world.nlc),
        "responsible_person_id": people["luo"],
    }
    bad = await coordinator.form(f"/follow-ups/visit/{visit['id']}", {**action, "due_on": "31/01/2026"})
    assert bad.status_code == 422 and "due_on" in bad.text
    added = await coordinator.form(f"/follow-ups/visit/{visit['id']}", {**action, "due_on": "2026-01-31"})
    assert added.status_code == 303 and added.headers["location"] == url + "#follow-ups"
    partner = await client_for("partner_a")
    page = await partner.get(url)
    assert "Gửi tài liệu nền tảng · 发送平台资料" in page.text and "31 January 2026" in page.text
    assert (await partner.form(f"/follow-ups/visit/{visit['id']}", {**action, "due_on": "2026-02-01"})).status_code == 403
    assert len((await coordinator.api("GET", f"/api/v1/follow-ups/visit/{visit['id']}")).json()) == 1


async def test_partner_edits_its_delegation_from_the_page(client_for, world, people):
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    url = f"/visits/{visit['id']}"
    partner = await client_for("partner_a")
    interpreter = (
        await partner.api("POST", "/api/v1/people", json={"name": "Wang Fang", "name_native": "王芳", "institution_id": str(world.nlc)})
    ).json()
    assert 'href="' + url + '/delegation"' in (await partner.get(url)).text
    form = await partner.get(url + "/delegation")
    assert form.status_code == 200 and "王芳" in form.text and "Nguyen Xuan Dung" not in form.text  # its own people only
    fields = form_fields(form.text, url + "/delegation")
    fields |= {"member-2-person_id": interpreter["id"], "member-2-role": "interpreter"}
    saved = await partner.form(url + "/delegation", fields)
    assert saved.status_code == 303, saved.text[:1500]
    after = (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}")).json()
    delegation = [
        (p["name_native"] or p["name"], p["role"], p["position_at_time"]) for p in after["participants"] if p["side"] == "delegation"
    ]
    assert delegation == [
        ("Rong Jie", "head_of_delegation", "Director, Department of Stacks Management and Reading Services"),
        ("Luo Chong", "member", "Deputy Director, Department of Cooperation and Operations"),
        ("王芳", "interpreter", None),
    ]
    assert [p["name"] for p in after["participants"] if p["side"] == "host"] == ["Nguyen Xuan Dung", "Nguyen Ngoc Anh"]
    twice = await partner.form(url + "/delegation", {**fields, "version": str(after["version"]), "member-3-person_id": people["luo"]})
    assert twice.status_code == 422 and "listed twice" in twice.text
    history = (await coordinator.get(url)).text
    assert "Delegation list changed" in history
    outsider = await client_for("partner_b")
    assert (await outsider.get(url + "/delegation")).status_code == 404
    await coordinator.api(
        "POST", f"/api/v1/visits/{visit['id']}/transition", json={"to": "cancelled", "version": after["version"], "note": "x"}
    )
    closed = await partner.get(url + "/delegation")
    assert closed.status_code == 409 and "The visit is cancelled; its delegation can no longer change." in closed.text


async def test_photos_are_put_in_order_and_captioned(client_for, world, people):
    import io

    from PIL import Image

    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    ids = []
    for number in range(3):
        buffer = io.BytesIO()
        Image.new("RGB", (40, 30), (number * 80, 90, 60)).save(buffer, format="PNG")
        added = await coordinator.api(
            "POST", f"/api/v1/visits/{visit['id']}/photos", files={"file": (f"{number}.png", buffer.getvalue(), "image/png")}
        )
        ids.append(added.json()["id"])
    photos_url = f"/api/v1/visits/{visit['id']}/photos"
    incomplete = await coordinator.api("PUT", photos_url, json=[{"id": ids[0]}, {"id": ids[1]}])
    assert incomplete.status_code == 422 and "exactly once" in incomplete.json()["errors"]["photos"]
    arranged = await coordinator.api(
        "PUT", photos_url, json=[{"id": ids[2], "caption": "Toàn cảnh buổi làm việc · 工作会议全景"}, {"id": ids[0]}, {"id": ids[1]}]
    )
    assert [(p["id"], p["position"]) for p in arranged.json()] == [(ids[2], 0), (ids[0], 1), (ids[1], 2)]
    assert arranged.json()[0]["caption"] == "Toàn cảnh buổi làm việc · 工作会议全景"

    page = await coordinator.get(f"/visits/{visit['id']}")
    fields = form_fields(page.text, f"/visits/{visit['id']}/photos/arrange")
    fields |= {"photo-0-order": "4", "photo-2-caption": "Trao quà lưu niệm"}  # the first shown goes last
    assert (await coordinator.form(f"/visits/{visit['id']}/photos/arrange", fields)).status_code == 303
    listed = (await coordinator.api("GET", photos_url)).json()
    assert [p["id"] for p in listed] == [ids[0], ids[1], ids[2]]
    assert [p["caption"] for p in listed] == ["", "Trao quà lưu niệm", "Toàn cảnh buổi làm việc · 工作会议全景"]
    partner = await client_for("partner_a")
    assert (await partner.api("PUT", photos_url, json=[{"id": i} for i in ids])).status_code == 403


def _png(shade: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (shade, 90, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_several_photos_at_once_then_captioned_and_moved_with_buttons(client_for, world, people):
    """Photos chosen together are added together (one bad file and none is), the page then opens their captions with
    the first blank one focused, and ↑ ↓ move a photo without any script."""
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    page = await coordinator.get(f"/visits/{visit['id']}")
    assert "multiple required" in page.text
    fields = form_fields(page.text, f"/visits/{visit['id']}/photos")
    photos_url = f"/api/v1/visits/{visit['id']}/photos"
    files = [("file", (f"{n}.png", _png(n * 80), "image/png")) for n in range(3)]
    refused = await coordinator.raw.post(
        f"/visits/{visit['id']}/photos", data=fields, files=[*files, ("file", ("notes.png", b"not an image", "image/png"))]
    )
    assert refused.status_code == 422 and "notes.png:" in refused.text
    # A multipart form without its file field at all (a script, a proxy that dropped it) is the same mistake, not a 500.
    no_file = await coordinator.raw.post(f"/visits/{visit['id']}/photos", data=fields, files=[("caption", (None, "Toàn cảnh"))])
    assert no_file.status_code == 422 and "choose a photo to upload" in no_file.text
    assert (await coordinator.api("GET", photos_url)).json() == []
    added = await coordinator.raw.post(f"/visits/{visit['id']}/photos", data=fields, files=files)
    assert added.status_code == 303 and added.headers["location"] == f"/visits/{visit['id']}?captions=1"
    # The page's script sends one file a request and asks for no page back.
    one = await coordinator.raw.post(
        f"/visits/{visit['id']}/photos", data=fields, files=[("file", ("3.png", _png(250), "image/png"))], headers={"X-Photo-Upload": "1"}
    )
    assert one.status_code == 204
    listed = (await coordinator.api("GET", photos_url)).json()
    assert [p["position"] for p in listed] == [0, 1, 2, 3]
    page = await coordinator.get(f"/visits/{visit['id']}?captions=1")
    assert '<details class="mt-08" id="arrange" open>' in page.text
    assert 'id="photo-0-caption" name="photo-0-caption" value="" autofocus' in page.text
    fields = form_fields(page.text, f"/visits/{visit['id']}/photos/arrange")
    moved = await coordinator.form(f"/visits/{visit['id']}/photos/arrange", {**fields, "photo-0-caption": "Toàn cảnh", "move": "2:up"})
    assert moved.status_code == 303 and moved.headers["location"].endswith(f"#photo-{listed[2]['id']}")
    after = (await coordinator.api("GET", photos_url)).json()
    assert [p["id"] for p in after] == [listed[0]["id"], listed[2]["id"], listed[1]["id"], listed[3]["id"]]
    assert after[0]["caption"] == "Toàn cảnh"


async def test_archived_records_are_kept_but_no_longer_listed(client_for, world, people):
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    partner = await client_for("partner_a")
    assert (await partner.api("POST", f"/api/v1/visits/{visit['id']}/archive", json={"version": 1})).status_code == 403
    archived = await coordinator.form(f"/visits/{visit['id']}/archive", {"version": "1"})
    assert archived.status_code == 303
    assert (await coordinator.api("GET", "/api/v1/visits")).json()["total"] == 0
    page = await coordinator.get(f"/visits/{visit['id']}")
    assert "This visit is archived" in page.text and ">Restore<" in page.text
    again = await coordinator.api("POST", f"/api/v1/visits/{visit['id']}/archive", json={"version": 2})
    assert again.status_code == 409
    restored = await coordinator.api("POST", f"/api/v1/visits/{visit['id']}/restore", json={"version": 2})
    assert restored.status_code == 200 and restored.json() == {"archived": False, "version": 3}
    assert (await coordinator.api("GET", "/api/v1/visits")).json()["total"] == 1
    history = (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}/history")).json()
    assert [h["action"] for h in history[:2]] == ["restore", "archive"]


async def test_an_oversized_photo_names_the_limit(client_for, world, people):
    """It answered a bare "Request Entity Too Large"; now the visit page comes back with the limit."""
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    page = await coordinator.get(f"/visits/{visit['id']}")
    assert "at most 64 KiB" in page.text  # the tests' limit, said beside the field
    fields = form_fields(page.text, f"/visits/{visit['id']}/photos")
    caption = "Trao quà lưu niệm · 互赠纪念品"
    big = await coordinator.raw.post(
        f"/visits/{visit['id']}/photos",
        data={**fields, "caption": caption},
        files={"file": ("gifts.jpg", b"\xff\xd8\xff" + b"0" * 100 * 1024, "image/jpeg")},
    )
    assert big.status_code == 422
    assert "gifts.jpg is 100 KiB; the limit is 64 KiB" in big.text and 'aria-describedby="photo-file-error"' in big.text
    huge = await coordinator.raw.post(
        f"/visits/{visit['id']}/photos",
        data={**fields, "caption": caption},
        files={"file": ("gifts.jpg", b"\xff\xd8\xff" + b"0" * 1536 * 1024, "image/jpeg")},
    )
    assert huge.status_code == 413 and "at most 64 KiB per file" in huge.text
    assert (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}/photos")).json() == []


async def test_the_home_page_shows_what_is_coming_up_in_the_next_sixty_days(client_for, world, people):
    """Issue 14's briefing, first part: a visit eight days away is on the director's home page whatever the month,
    with how soon it starts; one under way says so; one in ten weeks or one past is not there."""
    from datetime import date, timedelta

    coordinator = await client_for("coordinator")
    today = date.today()
    for title, start, length in (
        ("Visit in eight days", 8, 3),
        ("Visit under way", -1, 3),
        ("Visit in ten weeks", 70, 2),
        ("Visit forty days ago", -40, 2),
    ):
        body = seed_visit_payload(
            world,
            people,
            title=title,
            starts_on=(today + timedelta(days=start)).isoformat(),
            ends_on=(today + timedelta(days=start + length)).isoformat(),
            agenda=[],
        )
        created = await coordinator.api("POST", "/api/v1/visits", json=body)
        assert created.status_code == 201, created.text
    director = await client_for("director")
    home = (await director.get("/")).text
    assert "Coming up: visits and expert stays in the next 60 days" in home
    assert "Visit in eight days" in home and "in 8 days" in home
    assert "Visit under way" in home and "under way</span>" in home
    assert "Visit in ten weeks" not in home and "Visit forty days ago" not in home
    assert home.index("Visit under way") < home.index("Visit in eight days")
    await director.form("/language", {"language": "vi", "next": "/"})
    assert "8 ngày nữa" in (await director.get("/")).text
