"""Reports on demand: the PDF's text holds the period's agreements and visits (Vietnamese and Chinese names
included), in the language asked for; a partner's report holds nothing of another partner's; rendering never
stalls requests; a report past its time limit fails and says so."""

import asyncio
import io
import re
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

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
    assert "November 2025" in text and "Highlights" in text
    assert "NLV-BNF-2025" in text  # signed in the period
    assert "Working visit of National Library of China experts" in text and "Visite de la BnF à Hanoï" in text
    assert "Nguyễn Xuân Dũng" in text and "Rong Jie" in text
    assert "National Library of China (中国国家图书馆)" in text and "Nguyễn Ngọc Anh" in text
    assert "Delegation visits: 2" in text and "Agreements signed in the period: 1" in text
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
        ({"kind": "portfolio", "period": "2025", "language": "vi"}, "language", "English"),
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
    deadline = time.monotonic() + 2.5
    slowest = 0.0
    while time.monotonic() < deadline:
        started = time.perf_counter()
        health = await coordinator.get("/health")
        slowest = max(slowest, time.perf_counter() - started)
        assert health.status_code == 200
        assert (await coordinator.api("GET", f"/api/v1/reports/{asked['id']}")).json()["status"] == "rendering"
        await asyncio.sleep(0.1)
    assert slowest < 0.05, f"a health check took {slowest * 1000:.0f} ms while a report rendered"
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
