"""Shared digitization projects: progress reports (pages, API, CSV), what the page computes from them, who may report."""

import dataclasses
import uuid
from datetime import date

import pytest
from sqlalchemy import func, insert, select

from programs.forecast import Report, forecast, is_stale, totals_over_time
from programs.models import ProgressReport
from programs.project_services import get_project


@pytest.fixture
async def project(client_for, world):
    coordinator = await client_for("coordinator")
    created = await coordinator.api(
        "POST",
        "/api/v1/projects",
        json={
            "name": "Smart Service Platform for Chinese Ancient Books",
            "name_native": "中华古籍智慧化服务平台",
            "lead_institution_id": str(world.nlc),
            "starts_on": "2025-01-01",
            "ends_on": "2026-12-31",
            "target_volumes": 20000,
            "stale_after_days": 60,
            "participants": [
                {"institution_id": str(world.home), "role": "contributor", "target_volumes": 2000},
                {"institution_id": str(world.bnf), "role": "observer"},
            ],
            "milestones": [{"title": "Platform launched", "due_on": "2025-04-30", "done_on": "2025-04-28"}],
            "shared": True,
        },
    )
    assert created.status_code == 201, created.text
    return created.json()


async def report_count(db) -> int:
    return int(await db.scalar(select(func.count()).select_from(ProgressReport)))


async def upload(client, project_id: str, text: str):
    return await client.api(
        "POST", f"/api/v1/projects/{project_id}/progress/csv", content=text.encode(), headers={"content-type": "text/csv"}
    )


async def test_csv_good_file_is_applied(client_for, project, db):
    coordinator = await client_for("coordinator")
    good = "institution;as_of;titles;volumes;images\nNLC;2025-05-31;900;10 000;\nNLV;2025-05-31;40;300;12000\nnlc;2025-06-30;1000;11000;\n"
    response = await upload(coordinator, project["id"], good)  # semicolons, as a French or Vietnamese spreadsheet saves it
    assert response.status_code == 201, response.text
    assert response.json()["applied"] == 3
    read = response.json()["project"]
    assert read["total"] == {"titles": 1040, "volumes": 11300, "images": 12000}
    nlv = next(p for p in read["participants"] if p["code"] == "NLV")
    assert nlv["latest"]["volumes"] == 300 and nlv["percent"] == 15.0
    assert read["recent_reports"][0]["source"] == "csv" and read["recent_reports"][0]["reported_by_name"] == "Coordinator"


async def test_csv_with_bad_rows_applies_nothing(client_for, project, db):
    coordinator = await client_for("coordinator")
    before = await report_count(db)
    bad = (
        "institution,as_of,titles,volumes,images,correction_note\n"
        "NLC,2025-05-31,900,10000,,\n"
        "XYZ,2025-05-31,1,1,,\n"
        "NLV,31/05/2025,1,1,,\n"
        "NLV,2025-06-30,1,many,,\n"
        "NLC,2099-01-01,1,1,,\n"
    )
    response = await upload(coordinator, project["id"], bad)
    assert response.status_code == 422
    body = response.json()
    assert "Nothing from this file was applied" in body["detail"]
    errors = body["errors"]
    assert "no participant with the code 'XYZ'" in errors["line 3"]
    assert "not a date" in errors["line 4"] and "not a whole number" in errors["line 5"]
    assert "line 2" not in errors
    assert await report_count(db) == before
    future = await upload(coordinator, project["id"], "institution,as_of,volumes\nNLC,2099-01-01,5\n")
    assert future.status_code == 422 and "in the future" in future.json()["errors"]["line 2"]
    header = await upload(coordinator, project["id"], "library,date,volumes\nNLC,2025-01-01,5\n")
    assert header.status_code == 422 and "unknown column library, date" in header.json()["errors"]["line 1"]


async def test_duplicate_dates(client_for, project, db):
    coordinator = await client_for("coordinator")
    twice = "institution,as_of,volumes\nNLC,2025-05-31,100\nNLC,2025-05-31,120\n"
    response = await upload(coordinator, project["id"], twice)
    assert response.status_code == 422 and "line 2 has it" in response.json()["errors"]["line 3"]
    assert await report_count(db) == 0
    assert (await upload(coordinator, project["id"], "institution,as_of,volumes\nNLC,2025-05-31,100\n")).status_code == 201
    again = await upload(coordinator, project["id"], "institution,as_of,volumes\nNLC,2025-05-31,150\n")
    assert again.status_code == 422 and "already reported" in again.json()["errors"]["line 2"]
    corrected = await upload(
        coordinator, project["id"], "institution,as_of,volumes,correction_note\nNLC,2025-05-31,150,recount of the May batch\n"
    )
    assert corrected.status_code == 201
    assert corrected.json()["project"]["total"]["volumes"] == 150 and await report_count(db) == 1


async def test_counts_do_not_go_backwards_silently(client_for, project):
    coordinator = await client_for("coordinator")
    url = f"/api/v1/projects/{project['id']}/progress"
    nlc = project["lead_institution_id"]
    assert (await coordinator.api("POST", url, json={"institution_id": nlc, "as_of": "2025-05-31", "volumes": 5000})).status_code == 201
    lower = await coordinator.api("POST", url, json={"institution_id": nlc, "as_of": "2025-06-30", "volumes": 4800})
    assert lower.status_code == 422
    assert "go down from 5,000 (2025-05-31) to 4,800 (2025-06-30)" in lower.json()["errors"]["correction_note"]
    # A new report placed before a stored one must not be higher than it either.
    earlier = await coordinator.api("POST", url, json={"institution_id": nlc, "as_of": "2025-04-30", "volumes": 5200})
    assert (
        earlier.status_code == 422
        and "go down from 5,200 (2025-04-30) to 5,000 (2025-05-31)" in earlier.json()["errors"]["correction_note"]
    )
    in_file = await upload(coordinator, project["id"], "institution,as_of,volumes\nNLC,2025-07-31,6000\nNLC,2025-08-31,5900\n")
    assert in_file.status_code == 422 and "a lower figure needs a correction note" in in_file.json()["errors"]["line 3"]
    noted = await coordinator.api(
        "POST", url, json={"institution_id": nlc, "as_of": "2025-06-30", "volumes": 4800, "correction_note": "200 volumes were duplicates"}
    )
    assert noted.status_code == 201
    assert noted.json()["recent_reports"][0]["correction_note"] == "200 volumes were duplicates"


async def test_partner_reports_only_its_own_figures(client_for, project, world):
    partner = await client_for("partner_a")  # NLC, the lead
    url = f"/api/v1/projects/{project['id']}/progress"
    own = await partner.api("POST", url, json={"institution_id": str(world.nlc), "as_of": "2025-05-31", "volumes": 700})
    assert own.status_code == 201
    other = await partner.api("POST", url, json={"institution_id": str(world.home), "as_of": "2025-05-31", "volumes": 1})
    assert other.status_code == 403
    csv_other = await upload(partner, project["id"], "institution,as_of,volumes\nNLC,2025-06-30,800\nNLV,2025-06-30,5\n")
    assert csv_other.status_code == 403
    assert (await partner.api("GET", f"/api/v1/projects/{project['id']}")).json()["total"]["volumes"] == 700
    page = await partner.get(f"/projects/{project['id']}")
    assert '<option value="' + str(world.nlc) + '"' in page.text and '<option value="' + str(world.home) + '"' not in page.text
    observer = await client_for("partner_b")  # BnF observes: sees the project, reports only for itself
    assert (await observer.api("GET", f"/api/v1/projects/{project['id']}")).status_code == 200
    assert (
        await observer.api("POST", url, json={"institution_id": str(world.nlc), "as_of": "2025-07-31", "volumes": 9})
    ).status_code == 403
    director = await client_for("director")
    assert (
        await director.api("POST", url, json={"institution_id": str(world.nlc), "as_of": "2025-07-31", "volumes": 9})
    ).status_code == 403


async def test_progress_form_on_the_page(client_for, project, world):
    coordinator = await client_for("coordinator")
    url = f"/projects/{project['id']}"
    bad = await coordinator.form(url + "/progress", {"institution_id": str(world.home), "as_of": "2025-05-31", "volumes": "-3"})
    assert bad.status_code == 422 and "<li>Volumes: " in bad.text and 'value="-3"' in bad.text
    good = await coordinator.form(url + "/progress", {"institution_id": str(world.home), "as_of": "2025-05-31", "volumes": "300"})
    assert good.status_code == 303
    page = await coordinator.get(url)
    assert "300 volumes" in page.text and "<svg" in page.text and "中华古籍智慧化服务平台" in page.text
    csv_bad = await coordinator.raw.post(
        url + "/progress/csv",
        files={"file": ("p.csv", b"institution,as_of,volumes\nNLV,2025-06-30,abc\n", "text/csv")},
        data={"_csrf_token": await coordinator.csrf()},
    )
    assert csv_bad.status_code == 422 and "Nothing from this file was applied" in csv_bad.text and "line 2" in csv_bad.text


def test_forecast_on_known_data():
    nlc = uuid.uuid4()
    reports = [Report(nlc, date(2025, 1, 1), None, 1000, None), Report(nlc, date(2025, 4, 1), None, 1900, None)]
    series = totals_over_time(reports)
    # 900 volumes over the 90 days to 1 April: 10 a day; 8,100 left for a 10,000 target: 810 days.
    outlook = forecast(series, "volumes", 10_000, date(2025, 4, 1), date(2024, 1, 1), date(2026, 12, 31))
    assert outlook.rate_per_day == 10.0 and outlook.completion_on == date(2027, 6, 20) and outlook.after_end
    on_time = forecast(series, "volumes", 10_000, date(2025, 4, 1), date(2024, 1, 1), date(2027, 12, 31))
    assert not on_time.after_end
    stalled = forecast(series, "volumes", 10_000, date(2025, 9, 1), date(2024, 1, 1), date(2027, 12, 31))
    assert stalled.rate_per_day == 0 and stalled.completion_on is None and stalled.after_end
    reached = forecast(series, "volumes", 1500, date(2025, 9, 1), date(2024, 1, 1), None)
    assert reached.completion_on == date(2025, 4, 1)


def test_totals_take_each_participants_latest_figure():
    a, b = uuid.uuid4(), uuid.uuid4()
    series = totals_over_time(
        [
            Report(a, date(2025, 1, 31), 10, 100, None),
            Report(b, date(2025, 2, 28), 5, 50, None),
            Report(a, date(2025, 3, 31), None, 150, None),  # titles left blank: the last figure stands
            Report(b, date(2025, 3, 31), 6, 40, None),  # a correction downwards
        ]
    )
    assert [(p.as_of.month, p.titles, p.volumes) for p in series] == [(1, 10, 100), (2, 15, 150), (3, 16, 190)]


def test_stale_flag():
    assert is_stale(None, date(2025, 6, 1), 60)
    assert is_stale(date(2025, 3, 1), date(2025, 6, 1), 60)
    assert not is_stale(date(2025, 4, 15), date(2025, 6, 1), 60)


async def test_stale_participants_and_late_milestones_on_the_page(db, client_for, project, world):
    coordinator = await client_for("coordinator")
    url = f"/api/v1/projects/{project['id']}/progress"
    await coordinator.api("POST", url, json={"institution_id": str(world.nlc), "as_of": "2025-09-30", "volumes": 9000})
    await coordinator.api("POST", url, json={"institution_id": str(world.home), "as_of": "2025-05-31", "volumes": 100})
    principal = world.principals["coordinator"]
    read = await get_project(db, principal, uuid.UUID(project["id"]), today=date(2025, 10, 15))
    stale = {p.code: p.stale for p in read.participants}
    assert stale == {"NLC": False, "NLV": True, "BNF": False}  # an observer reports nothing and is never stale
    assert any("NLV" in r for r in read.risks)


async def test_commitment_progress_is_computed_from_a_project(client_for, world):
    from tests.agreements.helpers import agreement_payload

    coordinator = await client_for("coordinator")
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    commitment = (
        await coordinator.api("POST", f"/api/v1/agreements/{agreement['id']}/commitments", json={"text": "Digitize ancient books together"})
    ).json()
    body = {
        "name": "Ancient books",
        "lead_institution_id": str(world.nlc),
        "starts_on": "2025-01-01",
        "target_volumes": 8000,
        "agreement_ids": [agreement["id"]],
        "commitment_id": commitment["id"],
    }
    missing_unit = await coordinator.api("POST", "/api/v1/projects", json=body)
    assert missing_unit.status_code == 422 and "commitment_unit" in missing_unit.json()["errors"]
    created = (await coordinator.api("POST", "/api/v1/projects", json={**body, "commitment_unit": "volumes"})).json()
    await coordinator.api(
        "POST",
        f"/api/v1/projects/{created['id']}/progress",
        json={"institution_id": str(world.nlc), "as_of": "2025-06-30", "volumes": 2000},
    )
    read = (await coordinator.api("GET", f"/api/v1/agreements/{agreement['id']}")).json()
    measured = next(c for c in read["commitments"] if c["id"] == commitment["id"])
    assert measured["progress"] == 25 and measured["measured_by"] == "Project “Ancient books”: 2,000 of 8,000 volumes"
    # Its status follows the measure (it stayed "planned" at 82% in the demo): no end date, so never behind.
    assert measured["measured_state"] == "on_track" and measured["status"] == "in_progress"
    typed = await coordinator.api(
        "PATCH",
        f"/api/v1/agreements/{agreement['id']}/commitments/{commitment['id']}/progress",
        json={"status": "in_progress", "progress": 60, "version": measured["version"]},
    )
    assert typed.status_code == 409 and "computed from" in typed.json()["detail"]
    second = await coordinator.api(
        "POST",
        "/api/v1/programmes",
        json={
            "name": "Also measuring",
            "starts_on": "2026-01-01",
            "ends_on": "2026-12-31",
            "institution_ids": [str(world.home)],
            "agreement_id": agreement["id"],
            "commitment_id": commitment["id"],
        },
    )
    assert (
        second.status_code == 422
        and "the project “Ancient books” measures this commitment already" in second.json()["errors"]["commitment_id"]
    )
    page = await coordinator.get(f"/agreements/{agreement['id']}")
    assert "computed: " in page.text and f'href="/projects/{created["id"]}"' in page.text


async def test_dashboard_shows_each_role_what_it_may_see(client_for, project, world):
    coordinator = await client_for("coordinator")
    other = await coordinator.api(
        "POST",
        "/api/v1/projects",
        json={"name": "Gallica shared corpus", "lead_institution_id": str(world.ndl), "starts_on": "2025-01-01", "target_volumes": 10},
    )
    assert other.status_code == 201
    await coordinator.api(
        "POST",
        "/api/v1/programmes",
        json={
            "name": "NLV–NLC exchanges",
            "starts_on": "2025-01-01",
            "ends_on": "2030-12-31",
            "institution_ids": [str(world.home), str(world.nlc)],
            "quotas": [{"direction": "incoming", "max_per_year": 3}],
            "shared": True,
        },
    )
    seen = {}
    for role in ("director", "partner_a", "partner_b"):
        page = (await (await client_for(role)).get("/")).text
        seen[role] = {name for name in ("Smart Service Platform", "Gallica shared corpus", "NLV–NLC exchanges") if name in page}
    assert seen["director"] == {"Smart Service Platform", "Gallica shared corpus", "NLV–NLC exchanges"}
    assert seen["partner_a"] == {"Smart Service Platform", "NLV–NLC exchanges"}  # NLC leads the platform and is in the programme
    assert seen["partner_b"] == {"Smart Service Platform"}  # BnF only observes the platform


async def test_project_page_queries_do_not_grow_with_participants_and_reports(app, db, client_for, world):
    """200 participants with five years of monthly reports: the same number of queries as a small project."""
    from cooperation.partners.models import Institution
    from tests.conftest import QueryCounter

    coordinator = await client_for("coordinator")
    codes = [f"P{n:03d}" for n in range(200)]
    await db.execute(
        insert(Institution),
        [{"id": uuid.uuid4(), "code": c, "name": f"Provincial library {c}", "country": "CN", "kind": "public_library"} for c in codes],
    )
    await db.commit()
    ids = dict((await db.execute(select(Institution.code, Institution.id).where(Institution.code.in_(codes)))).all())
    small = (
        await coordinator.api(
            "POST", "/api/v1/projects", json={"name": "Small", "lead_institution_id": str(world.nlc), "starts_on": "2021-01-01"}
        )
    ).json()
    big = await coordinator.api(
        "POST",
        "/api/v1/projects",
        json={
            "name": "Consortium",
            "lead_institution_id": str(world.nlc),
            "starts_on": "2021-01-01",
            "participants": [{"institution_id": str(ids[c]), "target_volumes": 5000} for c in codes],
        },
    )
    assert big.status_code == 201, big.text
    big_id = uuid.UUID(big.json()["id"])
    months = [date(2021 + m // 12, m % 12 + 1, 28) for m in range(60)]
    rows = [
        {
            "id": uuid.uuid4(),
            "project_id": big_id,
            "institution_id": ids[c],
            "as_of": day,
            "volumes": (i + 1) * 50 + n,
            "source": "csv",
            "reported_by_name": "Bulk",
        }
        for n, c in enumerate(codes)
        for i, day in enumerate(months)
    ]
    await db.execute(insert(ProgressReport), rows)
    await db.commit()
    with QueryCounter(app) as few:
        assert (await coordinator.get(f"/projects/{small['id']}")).status_code == 200
    with QueryCounter(app) as many:
        page = await coordinator.get(f"/projects/{big_id}")
    assert page.status_code == 200 and "P199" in page.text and "<svg" in page.text
    assert many.count == few.count, (few.count, many.count)


async def test_totals_over_time_in_the_database_match_the_rule(db, client_for, world, project):
    """The page's series comes from SQL window functions; forecast.totals_over_time states the rule in Python."""
    import random

    from programs.project_services import series_of

    rng = random.Random(7)
    coordinator = await client_for("coordinator")
    reports = []
    for institution in (world.nlc, world.home):
        volumes = titles = 0
        for month in range(1, 13):
            volumes += rng.randint(0, 300)
            titles += rng.randint(0, 20)
            blank_titles = rng.random() < 0.3
            day = date(2025, month, rng.choice([10, 20, 28]))
            reports.append(Report(institution, day, None if blank_titles else titles, volumes, None))
            body = {"institution_id": str(institution), "as_of": day.isoformat(), "volumes": volumes}
            if not blank_titles:
                body["titles"] = titles
            assert (await coordinator.api("POST", f"/api/v1/projects/{project['id']}/progress", json=body)).status_code == 201
    other = await coordinator.api(
        "POST", "/api/v1/projects", json={"name": "Other", "lead_institution_id": str(world.nlc), "starts_on": "2025-01-01"}
    )
    other_id = uuid.UUID(other.json()["id"])
    body = {"institution_id": str(world.nlc), "as_of": "2025-06-15", "volumes": 99999}  # same institution, another project
    assert (await coordinator.api("POST", f"/api/v1/projects/{other_id}/progress", json=body)).status_code == 201
    project_id = uuid.UUID(project["id"])
    both = await series_of(db, [project_id, other_id])
    assert both[project_id] == totals_over_time(reports)
    assert both[other_id] == totals_over_time([Report(world.nlc, date(2025, 6, 15), None, 99999, None)])


async def test_edit_pages_save_unchanged_without_losing_anything(client_for, world, project):
    from tests.agreements.helpers import agreement_payload
    from tests.html_forms import form_fields

    coordinator = await client_for("coordinator")
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    commitment = (await coordinator.api("POST", f"/api/v1/agreements/{agreement['id']}/commitments", json={"text": "Digitize"})).json()
    exchanges = (await coordinator.api("POST", f"/api/v1/agreements/{agreement['id']}/commitments", json={"text": "Exchange"})).json()
    before = (
        await coordinator.api(
            "PUT",
            f"/api/v1/projects/{project['id']}",
            json={
                "name": project["name"],
                "name_native": project["name_native"],
                "lead_institution_id": str(world.nlc),
                "starts_on": "2025-01-01",
                "ends_on": "2026-12-31",
                "platform_url": "https://guji.nlc.cn",
                "consortium_size": 180,
                "consortium_area": "31 tỉnh, thành phố · 31个省区市",
                "target_titles": 13000,
                "target_volumes": 20000,
                "stale_after_days": 45,
                "agreement_ids": [agreement["id"]],
                "commitment_id": commitment["id"],
                "commitment_unit": "titles",
                "participants": [
                    {"institution_id": str(world.home), "role": "contributor", "target_volumes": 2000, "target_images": 90000},
                    {"institution_id": str(world.bnf), "role": "observer"},
                ],
                "milestones": [{"title": "Platform launched", "due_on": "2025-04-30", "done_on": "2025-04-28"}],
                "version": project["version"],
            },
        )
    ).json()
    url = f"/projects/{project['id']}"
    saved = await coordinator.form(url, form_fields((await coordinator.get(url + "/edit")).text, url))
    assert saved.status_code == 303, saved.text[:1500]
    after = (await coordinator.api("GET", f"/api/v1/projects/{project['id']}")).json()
    assert {k: v for k, v in after.items() if k != "version"} == {k: v for k, v in before.items() if k != "version"}

    programme = (
        await coordinator.api(
            "POST",
            "/api/v1/programmes",
            json={
                "name": "Trao đổi chuyên gia · 专家交流",
                "starts_on": "2026-01-01",
                "ends_on": "2028-12-31",
                "institution_ids": [str(world.home), str(world.nlc)],
                "quotas": [
                    {"direction": "incoming", "max_per_year": 3},
                    {"direction": "outgoing", "max_per_year": 2, "field_of_work": "RFID"},
                ],
                "agreement_id": agreement["id"],
                "commitment_id": exchanges["id"],
                "budget_amount": "120000000.00",
                "budget_currency": "VND",
                "description": "Hai chiều · 双向",
            },
        )
    ).json()
    url = f"/programmes/{programme['id']}"
    saved = await coordinator.form(url, form_fields((await coordinator.get(url + "/edit")).text, url))
    assert saved.status_code == 303, saved.text[:1500]
    again = (await coordinator.api("GET", f"/api/v1/programmes/{programme['id']}")).json()
    assert {k: v for k, v in again.items() if k != "version"} == {k: v for k, v in programme.items() if k != "version"}


async def test_csv_lists_every_problem_in_one_answer_and_refuses_what_cannot_be_stored(app, client_for, project, db):
    app.state.settings = dataclasses.replace(app.state.settings, upload_max_bytes=512 * 1024)  # room for a 200,000-character cell
    coordinator = await client_for("coordinator")
    before = await report_count(db)
    rows = [
        "institution,as_of,titles,volumes,images,correction_note",
        "NLC,2025-05-31,,5000,,",
        "NLC,2025-06-30,,4000,,",  # a falling count, found although line 4 is in the future
        "NLV,2099-01-01,,10,,",
        "NLV,2025-06-30,²,10,,",  # a superscript two is a digit to str.isdigit, not a count
        "NLV,2025-07-31,,3000000000,,",
        "NLV,2025-08-31,,10,,x\x00y",
        f'NLV,2025-09-30,,10,,"{"n" * 200_000}"',  # past the csv module's field limit
        "NLV,2025-10-31,,12,,",
    ]
    response = await upload(coordinator, project["id"], "\n".join(rows) + "\n")
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert "a lower figure needs a correction note" in errors.get("line 3", ""), errors
    assert "in the future" in errors["line 4"]
    assert "not a whole number" in errors["line 5"]
    assert "more than 2,000,000,000" in errors["line 6"]
    assert "control character" in errors["line 7"]
    assert "cannot be read as CSV" in errors["line 8"]
    assert set(errors) == {"line 3", "line 4", "line 5", "line 6", "line 7", "line 8"}
    assert await report_count(db) == before


async def test_a_file_of_many_bad_rows_answers_with_the_first_hundred_and_the_total(app, client_for, project):
    app.state.settings = dataclasses.replace(app.state.settings, upload_max_bytes=512 * 1024)
    coordinator = await client_for("coordinator")
    body = "institution,as_of,volumes\n" + "".join(f"XYZ,2025-05-31,{n}\n" for n in range(5000))
    response = await upload(coordinator, project["id"], body)
    assert response.status_code == 422
    problem = response.json()
    assert len(problem["errors"]) == 100 and "line 2" in problem["errors"] and "line 101" in problem["errors"]
    assert "5,000 problem(s)" in problem["detail"] and "4,900 more" in problem["detail"]
    assert len(response.content) < 20_000


async def test_two_imports_at_once_never_store_a_falling_count(client_for, project):
    """Each file is valid alone; together they make volumes fall without a note. One waits for the other and is refused."""
    import asyncio

    first, second = await client_for("coordinator"), await client_for("coordinator")
    for attempt in range(5):
        month = 5 + attempt
        higher = f"institution,as_of,volumes\nNLC,2025-{month:02d}-10,{9000 - attempt}\n"
        lower = f"institution,as_of,volumes\nNLC,2025-{month:02d}-20,{1000 + attempt}\n"
        answers = await asyncio.gather(upload(first, project["id"], higher), upload(second, project["id"], lower))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201, 422], [a.text for a in answers]
        refused = next(a for a in answers if a.status_code == 422)
        assert "correction note" in refused.text
        if attempt < 4:  # the next attempt starts above what this one stored
            note = f"institution,as_of,volumes,correction_note\nNLC,2025-{month:02d}-25,0,reset for the next attempt\n"
            assert (await upload(first, project["id"], note)).status_code == 201
