"""Reports on demand: the PDF's text holds the period's agreements and visits (Vietnamese and Chinese names
included), in the language asked for; a partner's report holds nothing of another partner's; rendering never
stalls requests; a report past its time limit fails and says so."""

import asyncio
import io
import re
import time
import uuid
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from cooperation.reports.pdf import PdfRenderer, ReportTimeout


def pdf_text(content: bytes) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return re.sub(r"\s+", " ", text)


async def finished(app, client, run: dict) -> dict:
    await app.state.reports.drain()
    return (await client.api("GET", f"/api/v1/reports/{run['id']}")).json()


async def test_portfolio_report_holds_the_period(app, client_for, story):
    coordinator = await client_for("coordinator")
    asked = await coordinator.api("POST", "/api/v1/reports", json={"kind": "portfolio", "period": "2025-11", "language": "en"})
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "rendering"
    run = await finished(app, coordinator, asked.json())
    assert run["status"] == "ready", run
    pdf = await coordinator.get(run["download_url"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert "November 2025" in text and "The period at a glance" in text
    assert "NLV-BNF-2025" in text  # signed in the period
    assert "Working visit of National Library of China experts" in text and "Visite de la BnF à Hanoï" in text
    assert "Nguyễn Xuân Dũng" in text and "Rong Jie" in text
    assert "National Library of China (中国国家图书馆)" in text and "Nguyễn Ngọc Anh" in text
    # Each key figure with its change against the month before and the same month a year before: arrow and number.
    assert "Visits received 2 ▲ +2 against October 2025: 0 ▲ +2 against November 2024: 0" in text
    assert "Agreements signed 1 ▲ +1 against October 2025: 0" in text
    assert "Visits by month" in text and "November 2025 2 0" in text  # the chart's figures beside it: received, made
    assert run["pages"] >= 2 and f"Page 1 of {run['pages']}" in text


async def test_french_report_and_visit_summary(app, client_for, story):
    coordinator = await client_for("coordinator")
    asked = await coordinator.api("POST", "/api/v1/reports", json={"kind": "visit", "scope_id": story["visit"]["id"], "language": "fr"})
    run = await finished(app, coordinator, asked.json())
    text = pdf_text((await coordinator.get(run["download_url"])).content)
    assert "Compte rendu de visite" in text and "Délégation" in text and "Ce qui a été convenu" in text
    assert "中华古籍智慧化服务平台" in text and "Phiên làm việc · 工作会议" in text
    assert "26 novembre 2025" in text


async def test_a_partners_report_holds_only_what_it_shares(app, client_for, story, world):
    partner_b = await client_for("partner_b")
    run = await finished(
        app, partner_b, (await partner_b.api("POST", "/api/v1/reports", json={"kind": "portfolio", "period": "2025-Q4"})).json()
    )
    text = pdf_text((await partner_b.get(run["download_url"])).content)
    assert "NLV-BNF-2025" in text and "Visite de la BnF à Hanoï" in text
    assert "NLV-NLC-2025" not in text and "Working visit of National Library of China experts" not in text and "Rong Jie" not in text
    refused = await partner_b.api("POST", "/api/v1/reports", json={"kind": "partner", "scope_id": str(world.nlc)})
    assert refused.status_code == 404
    visit = await partner_b.api("POST", "/api/v1/reports", json={"kind": "visit", "scope_id": story["visit"]["id"]})
    assert visit.status_code == 404
    partner_a = await client_for("partner_a")
    assert (await partner_a.get(run["download_url"])).status_code == 404  # another person's report
    dossier = await finished(
        app, partner_a, (await partner_a.api("POST", "/api/v1/reports", json={"kind": "partner", "scope_id": str(world.nlc)})).json()
    )
    text_a = pdf_text((await partner_a.get(dossier["download_url"])).content)
    assert "NLV-NLC-2025" in text_a and "NLV-BNF-2025" not in text_a and "Visite de la BnF" not in text_a


async def test_bad_requests_name_what_is_wrong(client_for):
    coordinator = await client_for("coordinator")
    for body, field, words in [
        ({"kind": "annual"}, "kind", "unknown report"),
        ({"kind": "portfolio"}, "period", "choose the period"),
        ({"kind": "portfolio", "period": "2025-13"}, "period", "is not a period"),
        ({"kind": "partner"}, "scope_id", "partner institution"),
        ({"kind": "portfolio", "period": "2025", "language": "de"}, "language", "English"),
    ]:
        response = await coordinator.api("POST", "/api/v1/reports", json=body)
        assert response.status_code == 422, body
        assert words in response.json()["errors"].get(field, ""), response.json()


async def test_report_from_the_pages(app, client_for, story):
    director = await client_for("director")
    page = await director.get("/reports")
    assert page.status_code == 200 and "NLV-NLC-2025" in page.text
    asked = await director.form("/reports", {"kind": "agreement", "scope_agreement": story["nlc"]["id"], "language": "en"})
    assert asked.status_code == 303
    url = asked.headers["location"]
    waiting = await director.get(url)
    assert "Rendering the PDF" in waiting.text and 'hx-trigger="every 1s"' in waiting.text
    await app.state.reports.drain()
    ready = await director.get(url)
    assert "Download the PDF" in ready.text and "hx-trigger" not in ready.text
    link = re.search(r'id="download" href="([^"]+)"', ready.text).group(1)
    text = pdf_text((await director.get(link)).content)
    assert "Agreement dossier" in text and "Thỏa thuận hợp tác 合作协议" in text
    missing = await director.form("/reports", {"kind": "visit", "language": "en"})
    assert missing.status_code == 422 and "choose the visit" in missing.text


async def test_rendering_does_not_stall_requests(app, client_for, story, monkeypatch):
    monkeypatch.setenv("COOP_TEST_RENDER_DELAY", "3")  # read by the worker process, spawned at the first report
    coordinator = await client_for("coordinator")
    asked = (await coordinator.api("POST", "/api/v1/reports", json={"kind": "portfolio", "period": "2025", "language": "en"})).json()
    # The worker takes three seconds over the PDF; meanwhile the server goes on answering, request after request, and
    # each answer finds the report still rendering (a server stalled by the rendering would answer once it is done).
    deadline = time.monotonic() + 2.5
    answered = 0
    while time.monotonic() < deadline:
        assert (await coordinator.get("/health")).status_code == 200
        assert (await coordinator.api("GET", f"/api/v1/reports/{asked['id']}")).json()["status"] == "rendering"
        answered += 1
        await asyncio.sleep(0.1)
    assert answered >= 5, f"only {answered} answers while a report rendered"
    assert (await finished(app, coordinator, asked))["status"] == "ready"


async def test_a_report_over_its_time_limit_fails_and_the_pool_recovers(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("COOP_TEST_RENDER_DELAY", "5")
    renderer = PdfRenderer(1, 1, tmp_path)
    try:
        with pytest.raises(ReportTimeout, match="longer than 1 seconds"):
            await renderer.render("<p>slow</p>")
        monkeypatch.setenv("COOP_TEST_RENDER_DELAY", "0")
        renderer.timeout = 60  # the fresh worker's start-up is not what this measures
        pdf, pages, _ = await renderer.render("<p>Thư viện · 图书馆</p>")  # a fresh worker, not the stuck one
        assert pages == 1 and "Thư viện · 图书馆" in pdf_text(pdf)
    finally:
        renderer.close()


async def test_reports_read_only_our_own_files_never_the_network(tmp_path: Path):
    """A report may show our stored photos; it must not fetch a URL (a tracker, an internal service) nor read
    a file outside the store, whatever its HTML says."""
    import http.server
    import threading

    from PIL import Image

    hits: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    store, outside = tmp_path / "files", tmp_path / "elsewhere"
    store.mkdir()
    outside.mkdir()
    for folder in (store, outside):
        Image.new("RGB", (40, 30), (200, 40, 40)).save(folder / "photo.png")
    html = (
        f'<p>before</p><img src="http://127.0.0.1:{server.server_address[1]}/tracker.png">'
        f'<img src="{(outside / "photo.png").as_uri()}"><img src="{(store / "photo.png").as_uri()}"><p>after</p>'
    )
    renderer = PdfRenderer(1, 30, store)
    try:
        pdf, _, _ = await renderer.render(html)
    finally:
        renderer.close()
        server.shutdown()
        server.server_close()
    assert hits == []  # nothing was asked of the network
    images = [image for page in PdfReader(io.BytesIO(pdf)).pages for image in page.images]
    assert len(images) == 1  # the stored photo only, not the one outside the store
    assert "before" in pdf_text(pdf) and "after" in pdf_text(pdf)


async def _report_text(app, client, body: dict) -> str:
    asked = await client.api("POST", "/api/v1/reports", json=body)
    assert asked.status_code == 202, asked.text
    run = await finished(app, client, asked.json())
    assert run["status"] == "ready", run
    return pdf_text((await client.get(run["download_url"])).content)


async def test_every_report_kind_speaks_its_language_and_shows_what_the_page_shows(app, client_for, story, people, world):
    """French reports kept statuses and roles in English ("État: in force", "Director — head of delegation"); the visit
    PDF lacked gifts, topics and departments. Every stored value now goes through the report language's words."""
    from cooperation.reports.i18n import ENUMS

    coordinator = await client_for("coordinator")
    visit_id = story["visit"]["id"]
    # What the page shows of the visit, departments at the time included.
    visit = (await coordinator.api("GET", f"/api/v1/visits/{visit_id}")).json()
    body = {
        k: visit[k]
        for k in ("title", "direction", "host_institution_id", "visiting_institution_id", "starts_on", "ends_on", "city", "venue")
    }
    body |= {k: visit[k] for k in ("purpose", "theme", "topics", "report", "budget_amount", "budget_currency", "version")}
    body["agreement_id"] = visit["agreement"]["id"] if visit["agreement"] else None
    body["participants"] = [
        {k: p[k] for k in ("person_id", "side", "role", "position_at_time", "department_at_time")} for p in visit["participants"]
    ]
    body["participants"][0]["department_at_time"] = "Reading Services Division"
    body["agenda"] = [{"day": a["day"], "starts_at": a["starts_at"], "title": a["title"], "presenters": []} for a in visit["agenda"]]
    body["outcomes"] = visit["outcomes"]
    body["gifts"] = visit["gifts"]
    saved = await coordinator.api("PUT", f"/api/v1/visits/{visit_id}", json=body)
    assert saved.status_code == 200, saved.text
    requests = {
        "portfolio": {"kind": "portfolio", "period": "2025"},
        "partner": {"kind": "partner", "scope_id": str(world.nlc)},
        "agreement": {"kind": "agreement", "scope_id": story["nlc"]["id"]},
        "visit": {"kind": "visit", "scope_id": visit_id},
    }
    english = {word for kind in ENUMS["en"].values() for key, word in kind.items()}
    french = {word for kind in ENUMS["fr"].values() for word in kind.values()}
    typed = set(story["nlc"]["scope_tags"])  # what people typed is printed as typed ("digitization" is a scope tag here)
    leaks = sorted(english - french - typed)
    for kind, request in requests.items():
        text = await _report_text(app, coordinator, {**request, "language": "fr"})
        found = [word for word in leaks if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text)]
        assert not found, f"{kind} report in French prints English values: {found}"
        assert not re.search(r"\d\.\d{3,}", text), f"{kind}: a number printed with its float noise"
    # The partner dossier opens with the partnership's own summary, from the same facts as its sections.
    partner_en = await _report_text(app, coordinator, {**requests["partner"], "language": "en"})
    assert "The partnership at a glance" in partner_en and "Partners since" in partner_en
    assert "Delegation visits 1 / 0" in partner_en and "Last activity 26 Nov 2025" in partner_en
    visit_fr = await _report_text(app, coordinator, {**requests["visit"], "language": "fr"})
    rong = "Rong Jie, Director, Department of Stacks Management and Reading Services, Reading Services Division"
    assert f"{rong} — chef de délégation" in visit_fr
    assert "Nguyễn Xuân Dũng (Nguyen Xuan Dung), Director — présidence de séance" in visit_fr
    assert "Thèmes abordés : Smart library, RFID, AR/VR, Ancient books" in visit_fr or "Thèmes abordés: Smart library" in visit_fr
    assert "Quà lưu niệm (offert)" in visit_fr and "纪念品 (reçu)" in visit_fr
    visit_en = await _report_text(app, coordinator, {**requests["visit"], "language": "en"})
    assert "Topics: Smart library, RFID, AR/VR, Ancient books" in visit_en and "Gifts exchanged" in visit_en
    assert "Quà lưu niệm (given)" in visit_en and "— head of delegation" in visit_en
    agreement_fr = await _report_text(app, coordinator, requests["agreement"] | {"language": "fr"})
    assert "accord" in agreement_fr.lower() and "in force" not in agreement_fr


def test_percentages_print_at_most_one_decimal():
    from cooperation.reports.i18n import filters

    assert filters("en")["percent"](82.90000000000001) == "82.9%"
    french = filters("fr")["percent"](82.90000000000001)
    assert french.startswith("82,9") and french.endswith("%") and french[4] in "\u00a0\u202f"  # the language's own spacing
    assert filters("en")["percent"](25) == "25%"


async def test_a_past_period_report_is_as_of_its_last_day(app, db, client_for, world):
    """The 2025 portfolio counted a progress report dated 2026-11-20 and forecast from today; an agreement that lapsed
    in 2025 showed today's status. A period report now shows the figures and statuses as they stood on its last day."""
    from sqlalchemy import update

    from agreements.models import Agreement
    from tests.agreements.helpers import agreement_payload

    coordinator = await client_for("coordinator")
    lapsed = (
        await coordinator.api(
            "POST",
            "/api/v1/agreements",
            json=agreement_payload([world.home, world.bnf], reference="NLV-BNF-2020", effective_on="2020-09-15", expires_on="2025-09-14"),
        )
    ).json()
    await db.execute(update(Agreement).where(Agreement.id == uuid.UUID(lapsed["id"])).values(status="expired"))
    await db.commit()
    project = (
        await coordinator.api(
            "POST",
            "/api/v1/projects",
            json={"name": "Ancient books", "lead_institution_id": str(world.nlc), "starts_on": "2025-01-01", "target_volumes": 8000},
        )
    ).json()
    for as_of, volumes in (("2025-06-30", 2000), ("2026-11-20", 6000)):
        report = {"institution_id": str(world.nlc), "as_of": as_of, "volumes": volumes}
        reported = await coordinator.api("POST", f"/api/v1/projects/{project['id']}/progress", json=report)
        assert reported.status_code in (200, 201), reported.text
    year = await _report_text(app, coordinator, {"kind": "portfolio", "period": "2025", "language": "en"})
    done = re.search(r"Ancient books \(NLC\) ([\d,]+) volumes", year)
    assert done and done.group(1) == "2,000"  # not the 6,000 reported in November 2026
    assert "NLV-BNF-2020" in year
    lapsed_row = re.search(r"NLV-BNF-2020 .{0,200}?(in force|expired)", year)
    assert lapsed_row and lapsed_row.group(1) == "expired"
    spring = await _report_text(app, coordinator, {"kind": "portfolio", "period": "2025-Q2", "language": "en"})
    in_force_row = re.search(r"NLV-BNF-2020 .{0,200}?(in force|expired)", spring)
    assert in_force_row and in_force_row.group(1) == "in force"  # on 30 June 2025 it still ran


async def test_page_one_of_the_portfolio_is_not_left_empty(app, client_for, story):
    """Page 1 held only the highlights (seven lines and two thirds of white space): it opens with the key figures and
    what to decide, and the report goes on below them."""
    coordinator = await client_for("coordinator")
    asked = await coordinator.api("POST", "/api/v1/reports", json={"kind": "portfolio", "period": "2025-11", "language": "en"})
    run = await finished(app, coordinator, asked.json())
    first = PdfReader(io.BytesIO((await coordinator.get(run["download_url"])).content)).pages[0].extract_text()
    assert "The period at a glance" in first and "Decisions to take" in first and "Commitments at a glance" in first


async def test_small_things_people_saw(db, client_for, story, world):
    """The report page refreshes itself without JavaScript; the subscription form chooses a visit for a visit summary;
    the country filter offers countries, not CLDR's pseudo-regions."""
    from cooperation.auth.models import User
    from cooperation.reports.models import ReportRun

    coordinator = await client_for("coordinator")
    owner = await db.scalar(select(User.id).where(User.email == world.users["coordinator"]))
    run = ReportRun(kind="portfolio", period_key="2025-11", language="en", title="Portfolio", requested_by_id=owner, requested_by_name="C")
    db.add(run)
    await db.commit()
    rendering = (await coordinator.get(f"/reports/runs/{run.id}")).text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in rendering
    subscriptions = (await coordinator.get("/reports/subscriptions")).text
    visit_choice = re.search(r'<select id="f-scope_visit" name="scope_visit">(.*?)</select>', subscriptions, re.S)
    assert visit_choice and story["visit"]["id"] in visit_choice.group(1)
    institutions = (await coordinator.get("/institutions")).text
    assert "Vietnam" in institutions and "Pseudo-Accents" not in institutions and "Unknown Region" not in institutions


REPORT_WORDS = {
    # title heading of each kind, a heading every report of the kind prints, and 26 November 2025 as the language writes it
    "en": (("International cooperation: progress report", "Partner dossier", "Agreement dossier", "Visit summary"), "26 November 2025"),
    "fr": (
        ("Coopération internationale : rapport d’avancement", "Dossier partenaire", "Dossier d’accord", "Compte rendu de visite"),
        "26 novembre 2025",
    ),
    "vi": (("Hợp tác quốc tế: báo cáo tiến độ", "Hồ sơ đối tác", "Hồ sơ thỏa thuận", "Báo cáo đoàn công tác"), "26 tháng 11, 2025"),
    "zh_Hans": (("国际合作进展报告", "合作机构档案", "协议档案", "访问纪要"), "2025年11月26日"),
}


def embedded_fonts(content: bytes) -> set[str]:
    fonts: set[str] = set()
    for page in PdfReader(io.BytesIO(content)).pages:
        for font in (page.get("/Resources") or {}).get("/Font", {}).values():
            fonts.add(str(font.get_object().get("/BaseFont")))
    return fonts


@pytest.mark.parametrize("backend", ["sqlite"])  # the words, not the database, are under test: one backend is enough
@pytest.mark.parametrize("language", list(REPORT_WORDS))
async def test_each_report_kind_in_each_language(app, client_for, story, world, language):
    """Issue 13: the four kinds of report in the four languages — their headings and statuses in the language, dates
    as it writes them, the Vietnamese and Chinese names as written; a Chinese report embeds a CJK font."""
    coordinator = await client_for("coordinator")
    titles, visit_day = REPORT_WORDS[language]
    requests = [
        {"kind": "portfolio", "period": "2025"},
        {"kind": "partner", "scope_id": str(world.nlc)},
        {"kind": "agreement", "scope_id": story["nlc"]["id"]},
        {"kind": "visit", "scope_id": story["visit"]["id"]},
    ]
    for request, title in zip(requests, titles, strict=True):
        asked = await coordinator.api("POST", "/api/v1/reports", json={**request, "language": language})
        assert asked.status_code == 202, asked.text
        run = await finished(app, coordinator, asked.json())
        assert run["status"] == "ready", run
        content = (await coordinator.get(run["download_url"])).content
        text = pdf_text(content)
        assert title in text, (language, request["kind"], text[:300])
        assert "中国国家图书馆" in text or (request["kind"] == "agreement" and "合作协议" in text), (language, request["kind"])
        if request["kind"] == "visit":
            assert visit_day in text and "Nguyễn Xuân Dũng" in text, (language, text[:400])
        if language == "zh_Hans":
            assert any("CJK" in font for font in embedded_fonts(content)), embedded_fonts(content)
    if language != "en":  # the statuses too: nothing of the English vocabulary in a translated dossier
        agreement = await _report_text(app, coordinator, {**requests[2], "language": language})
        assert "in force" not in agreement and "Status" not in agreement


async def test_the_pool_is_renewed_without_a_report_left_waiting(tmp_path):
    """ProcessPoolExecutor's own max_tasks_per_child left the 20th report and those queued behind it hanging until
    their time limit (CPython gh-115634); the renderer renews its pool itself: 45 reports at once, every one made."""
    renderer = PdfRenderer(1, 60, tmp_path)
    try:
        # A report left waiting would reach its time limit and raise ReportTimeout: every one made is the proof.
        made = await asyncio.gather(*(renderer.render(f"<p>Báo cáo {n}</p>") for n in range(45)))
        assert len(made) == 45 and all(pdf.startswith(b"%PDF") and pages == 1 for pdf, pages, _ in made)
    finally:
        renderer.close()


async def test_the_home_institutions_logo_on_the_cover(app, client_for, story, world):
    """An administrator uploads the library's logo on its page; every report carries it on its cover. Only a PNG or
    JPEG, only for the home institution, only by an administrator."""
    from PIL import Image

    logo = io.BytesIO()
    Image.new("RGB", (300, 120), "darkgreen").save(logo, format="PNG")
    admin, coordinator = await client_for("admin"), await client_for("coordinator")
    page = (await admin.get(f"/institutions/{world.home}")).text
    assert 'id="logo"' in page and "Logo on reports" in page
    assert 'id="logo"' not in (await coordinator.get(f"/institutions/{world.home}")).text
    refused = await coordinator.form(f"/institutions/{world.home}/logo", {}, files={"file": ("logo.png", logo.getvalue(), "image/png")})
    assert refused.status_code == 403
    gif = await admin.form(f"/institutions/{world.home}/logo", {}, files={"file": ("logo.gif", b"GIF89a" + b"\0" * 40, "image/gif")})
    assert gif.status_code == 422 and "PNG or JPEG" in gif.text
    elsewhere = await admin.form(f"/institutions/{world.nlc}/logo", {}, files={"file": ("logo.png", logo.getvalue(), "image/png")})
    assert elsewhere.status_code == 422
    done = await admin.form(f"/institutions/{world.home}/logo", {}, files={"file": ("logo.png", logo.getvalue(), "image/png")})
    assert done.status_code == 303, done.text[:300]
    assert 'class="report-logo"' in (await admin.get(f"/institutions/{world.home}")).text
    asked = await coordinator.api("POST", "/api/v1/reports", json={"kind": "portfolio", "period": "2025-11"})
    run = await finished(app, coordinator, asked.json())
    first = PdfReader(io.BytesIO((await coordinator.get(run["download_url"])).content)).pages[0]
    assert first.images and first.images[0].image.size == (300, 120)
    removed = await admin.form(f"/institutions/{world.home}/logo", {"remove": "1"})
    assert removed.status_code == 303
    assert 'class="report-logo"' not in (await admin.get(f"/institutions/{world.home}")).text


async def test_a_logo_is_fitted_to_what_a_cover_needs_and_a_pixel_bomb_refused(app, client_for, world, db):
    """A 13,000 × 13,000 PNG of 164 KB was accepted and embedded whole in every report."""
    from PIL import Image
    from sqlalchemy import select

    from cooperation import files
    from cooperation.partners.models import Institution

    admin = await client_for("admin")
    bomb = io.BytesIO()
    Image.new("1", (13_000, 13_000)).save(bomb, format="PNG")
    assert len(bomb.getvalue()) < 1024 * 1024
    refused = await admin.form(f"/institutions/{world.home}/logo", {}, files={"file": ("bomb.png", bomb.getvalue(), "image/png")})
    assert refused.status_code == 422 and "13000×13000 pixels" in refused.text
    large = io.BytesIO()
    Image.new("RGBA", (4000, 1000), (0, 90, 40, 200)).save(large, format="PNG")
    done = await admin.form(f"/institutions/{world.home}/logo", {}, files={"file": ("logo.png", large.getvalue(), "image/png")})
    assert done.status_code == 303, done.text[:300]
    digest = await db.scalar(select(Institution.logo_sha256).where(Institution.id == world.home))
    with Image.open(io.BytesIO(await files.storage(app.state.settings).get(digest))) as stored:
        assert stored.size == (1000, 250) and stored.mode == "RGBA"  # fitted, its transparency kept


async def test_a_q4_2025_portfolio_counts_no_commitment_year_after_2025(app, db, client_for, world, people):
    """ "2025: 1 of 1, 2026: 0 of 1" in a report for the last quarter of 2025: a report shows its period as it stood on
    its last day — the visit that fulfilled the year counts, the years after are not listed."""
    from tests.agreements.helpers import agreement_payload
    from tests.exchanges.helpers import seed_visit_payload

    coordinator = await client_for("coordinator")
    terms = agreement_payload([world.home, world.nlc], effective_on="2025-04-10", expires_on="2030-04-09")
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=terms)).json()
    from sqlalchemy import update

    from agreements.models import Agreement

    await db.execute(update(Agreement).where(Agreement.id == uuid.UUID(agreement["id"])).values(status="in_force"))
    await db.commit()
    commitment = (
        await coordinator.api(
            "POST",
            f"/api/v1/agreements/{agreement['id']}/commitments",
            json={"text": "One expert delegation a year", "yearly_target": 1, "unit": "visits"},
        )
    ).json()
    payload = seed_visit_payload(world, people, agreement_id=agreement["id"], commitment_ids=[commitment["id"]])
    visit = (await coordinator.api("POST", "/api/v1/visits", json=payload)).json()
    done = await coordinator.api("POST", f"/api/v1/visits/{visit['id']}/transition", json={"to": "completed", "version": 1})
    assert done.status_code == 200, done.text
    quarter = " ".join((await _report_text(app, coordinator, {"kind": "portfolio", "period": "2025-Q4", "language": "en"})).split())
    assert "2025: 1 of 1" in quarter, quarter[-2000:]
    assert "2026:" not in quarter
    # The agreement's page, today, lists every year so far.
    page = (await coordinator.api("GET", f"/api/v1/agreements/{agreement['id']}")).json()
    assert "2026: 0 of 1" in next(c for c in page["commitments"] if c["id"] == commitment["id"])["measured_by"]


async def test_any_month_quarter_year_or_range_back_to_the_first_record(app, client_for, story, world):
    """The page offered the last twelve months, four quarters and two years: November 2025 (the seed visit's month) was
    out of reach, and no range. Every kind over a period now takes any month, quarter or year back to the first
    record, or any range of days — on the page and in the API."""
    director = await client_for("director")
    page = (await director.get("/reports")).text
    assert 'name="period_month"' in page and 'name="period_from"' in page and 'min="2025-01"' in page
    assert '<option value="2025">2025</option>' in page  # the first record's year (the seed's agreement and visit)
    asked = {
        "month": {"period_kind": "month", "period_month": "2025-11"},
        "quarter": {"period_kind": "quarter", "period_quarter": "4", "period_quarter_year": "2025"},
        "year": {"period_kind": "year", "period_year": "2025"},
        "range": {"period_kind": "range", "period_from": "2025-11-26", "period_to": "2025-11-29"},
    }
    titles = {}
    for name, fields in asked.items():
        made = await director.form("/reports", {"kind": "portfolio", "language": "en", **fields})
        assert made.status_code == 303, (name, made.text[:300])
        run = (await director.api("GET", "/api/v1/reports/" + made.headers["location"].rsplit("/", 1)[1])).json()
        titles[name] = run["title"]
    assert "November 2025" in titles["month"] and "Q4 2025" in titles["quarter"] and "2025" in titles["year"]
    assert "26–29 Nov 2025" in titles["range"], titles
    # An internal agreement of 2015 takes the department's list back to 2015; a partner's list does not tell of it.
    from tests.agreements.helpers import agreement_payload

    old = agreement_payload([world.home, world.bnf], reference="NLV-BNF-2015", effective_on="2015-03-01", expires_on="2020-02-28")
    assert (
        await (await client_for("coordinator")).api("POST", "/api/v1/agreements", json=old | {"confidentiality": "internal"})
    ).status_code == 201
    assert '<option value="2015">2015</option>' in (await director.get("/reports")).text
    assert '<option value="2015">' not in (await (await client_for("partner_b")).get("/reports")).text
    # The seed visit's days, as a range: the report tells of that visit.
    text = await _report_text(app, director, {"kind": "portfolio", "period": "2025-11-26..2025-11-29", "language": "en"})
    assert story["visit"]["title"] in " ".join(text.split())
    # Every report over a period takes a range, in the API too; a range the wrong way round names the field.
    coordinator = await client_for("coordinator")
    for kind in ("publications", "gifts"):
        answer = await coordinator.api("POST", "/api/v1/reports", json={"kind": kind, "period": "2025-01-01..2025-12-31", "language": "fr"})
        assert answer.status_code == 202, answer.text
    backwards = await director.form(
        "/reports", {"kind": "portfolio", "language": "en", "period_kind": "range", "period_from": "2025-12-01", "period_to": "2025-11-01"}
    )
    assert backwards.status_code == 422 and "the period ends before it begins" in backwards.text
