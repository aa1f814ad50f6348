"""Every report kind in every language, on the demo world, rendered to PNG (pdftoppm) and looked at the way a reader
flips through it: no page more than two thirds empty, except the last; and each holds its sections."""

import asyncio
import io
import os
import shutil
import subprocess

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from agreements.models import Agreement
from cooperation import demo
from cooperation.auth.models import User
from cooperation.auth.services import principal_of
from cooperation.partners.models import Institution
from cooperation.reports import builders, periods
from cooperation.reports import i18n as report_words
from cooperation.reports.pdf import PdfRenderer
from exchanges.models import Visit

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

LANGUAGES = ("en", "fr", "vi", "zh_Hans")
# What each kind must say: the report's own words (cooperation/reports/i18n.py), in each language.
SECTIONS = {
    "portfolio": ("summary_title", "decisions", "commitments_glance", "visits_by_month", "contents"),
    "partner": ("partnership_summary", "agreements", "visits"),
    "agreement": ("commitments", "approvals"),
    "visit": ("delegation",),
    "gifts": ("gifts_title",),
    "publications": ("publications_title",),
}


def _filled(png: bytes) -> float:
    """How far down its body (the running header and footer left out) a page's ink reaches: 0.3 means the lower 70 %
    of the page is white."""
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    top, bottom = int(height * 0.09), int(height * 0.92)
    pixels = image.load()
    inked = [y for y in range(top, bottom) if any(pixels[x, y] < 200 for x in range(0, width, 2))]
    return (inked[-1] - top) / (bottom - top) if inked else 0.0


async def test_no_page_is_left_two_thirds_empty(demo_app, tmp_path):
    if not shutil.which("pdftoppm"):
        if os.environ.get("CI"):
            pytest.fail("pdftoppm not found: .ci/bootstrap --system installs poppler-utils", pytrace=False)
        pytest.skip("pdftoppm is not installed (apt-get install poppler-utils)")
    settings = demo_app.state.settings
    async with demo_app.state.session_factory() as session:
        director = principal_of((await session.execute(select(User).where(User.email == f"director@{demo.DEMO_DOMAIN}"))).scalars().one())
        nlc = await session.scalar(select(Institution.id).where(Institution.code == "NLC"))
        agreement = await session.scalar(select(Agreement.id).where(Agreement.reference == "NLV-NLC-2025"))
        visit = await session.scalar(select(Visit.id).where(Visit.title.like("Working visit of National Library of China%")))
        scopes = {"portfolio": None, "partner": nlc, "agreement": agreement, "visit": visit, "gifts": None, "publications": None}
        built = {}
        for kind, scope in scopes.items():
            period = periods.parse("2025") if builders.over_a_period(kind) else None
            for language in LANGUAGES:
                built[kind, language] = await builders.build(session, director, settings, kind, scope, period, language)
    renderer = PdfRenderer(2, 120, tmp_path)
    try:
        rendered = await asyncio.gather(*(renderer.render(b.html) for b in built.values()))
    finally:
        renderer.close()
    empty = []
    for (kind, language), (pdf, pages, _) in zip(built, rendered, strict=True):
        text = "".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())
        t = report_words.translator(language)
        missing = [key for key in SECTIONS[kind] if "".join(t(key).split()) not in text]
        assert not missing, (kind, language, missing)
        if kind == "portfolio":  # a bookmark for each section, from its heading
            marks = [item.title for item in PdfReader(io.BytesIO(pdf)).outline if not isinstance(item, list)]
            assert any(mark.startswith(t("summary_title")) for mark in marks) and t("decisions") in marks, marks
        folder = tmp_path / f"{kind}-{language}"
        folder.mkdir()
        (folder / "report.pdf").write_bytes(pdf)
        command = ["pdftoppm", "-r", "24", "-gray", "-png", "report.pdf", "page"]
        await asyncio.to_thread(subprocess.run, command, cwd=folder, check=True, capture_output=True)
        images = sorted(folder.glob("page-*.png"))
        assert len(images) == pages
        for number, image in enumerate(images[:-1], start=1):  # the last page may end where the report ends
            filled = _filled(image.read_bytes())
            if filled < 1 / 3:
                empty.append(f"{kind} ({language}) page {number} of {pages}: ink down to {filled:.0%} of the page")
    assert not empty, empty
