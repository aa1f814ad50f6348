"""The National Library of Vietnam and the National Library of China, each on its own instance (two ports, two
databases, on loopback), approve the same agreement: NLV's coordinator asks from the agreement's page;
NLC's reads NLV's conditions beside its own record, every difference listed, and sends a comment back; NLV adds the
missing commitment and asks again; NLC approves that exact hash; a later change at NLV shows the approval outdated,
with what changed, on the page and in the dossier PDF. Then what must be refused is: a snapshot altered in transit, a
replayed message, an unpaired instance, the approval of an outdated hash."""

import asyncio
import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.async_api import Page, async_playwright, expect
from pypdf import PdfReader
from sqlalchemy import select

from agreements.models import Agreement, AgreementApproval, AgreementParty, Commitment
from cooperation import demo
from cooperation.db import create_engine, session_factory
from cooperation.partners.models import Institution
from cooperation.peers import services as peers
from cooperation.peers.models import Peer
from cooperation.records import fold_for_search
from tests.conftest import Client
from tests.e2e.conftest import CHROMIUM_ARGS, library_instance, recipient_of, serving, sign_in

pytestmark = pytest.mark.e2e

REFERENCE = "NLV-NLC-2025"
A = AgreementApproval
_live = A.peer_id.in_(select(Peer.id).where(Peer.archived_at.is_(None)))  # not the demo world's history (agreements/demo.py)
EXCHANGE = "Exchange of publications between the two national libraries"


async def _in(settings, work):
    """Run `work(session)` on one instance's database, from the test."""
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


async def _nlc_record_has_the_exchange(session) -> None:
    """NLC's record of the agreement holds a commitment NLV's lacks: the difference its coordinator will point out."""
    agreement_id = await session.scalar(select(Agreement.id).where(Agreement.reference == REFERENCE))
    session.add(Commitment(agreement_id=agreement_id, position=9, text=EXCHANGE, yearly_target=200, unit="titles"))


PUBLICATIONS = "NLV-NLC-2026-PUB"


async def _nlv_has_an_agreement_nlc_lacks(session) -> None:
    """An exchange-of-publications agreement NLV records and NLC's instance has never heard of."""
    codes = dict((await session.execute(select(Institution.code, Institution.id))).all())
    title = "Exchange of publications between the two national libraries, 2026–2030"
    agreement = Agreement(
        reference=PUBLICATIONS,
        title=title,
        search_text=fold_for_search(PUBLICATIONS, title),  # found by the list's search, as one typed in would be
        kind="exchange_of_publications",
        status="negotiating",
        effective_on=date(2026, 1, 1),
        expires_on=date(2030, 12, 31),
    )
    session.add(agreement)
    await session.flush()
    for position, code in enumerate(("NLV", "NLC")):
        session.add(AgreementParty(agreement_id=agreement.id, institution_id=codes[code], position=position))
    session.add(Commitment(agreement_id=agreement.id, text="Each library sends 150 new titles a year", yearly_target=150, unit="titles"))


@pytest.fixture(scope="module")
def libraries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict]]:
    data_dir = tmp_path_factory.mktemp("approval")
    nlv_settings, nlv_ids = library_instance(data_dir, "nlv", "NLV")
    nlc_settings, nlc_ids = library_instance(data_dir, "nlc", "NLC")
    asyncio.run(_in(nlc_settings, _nlc_record_has_the_exchange))
    asyncio.run(_in(nlv_settings, _nlv_has_an_agreement_nlc_lacks))
    with serving(nlv_settings) as nlv_url, serving(nlc_settings) as nlc_url:
        nlv = {"url": nlv_url, "ids": nlv_ids, "settings": nlv_settings}
        nlc = {"url": nlc_url, "ids": nlc_ids, "settings": nlc_settings}
        asyncio.run(_pair(nlv, nlc))
        yield {"nlv": nlv, "nlc": nlc}


async def _signed_in(url: str, who: str) -> Client:
    client = Client(httpx.AsyncClient(base_url=url, timeout=30))
    await client.sign_in(f"{who}@{demo.DEMO_DOMAIN}", demo.DEMO_PASSWORD)
    return client


async def _pair(nlv: dict, nlc: dict) -> None:
    """The two administrators pair the instances (tests/cooperation/test_peers.py clicks through it)."""
    nlc_admin, nlv_admin = await _signed_in(nlc["url"], "admin"), await _signed_in(nlv["url"], "admin")
    made = await nlc_admin.form("/admin/peers/codes", {"institution_id": str(nlc["ids"]["NLV"])})
    code = re.search(r'id="pairing-code">([0-9A-F-]+)<', made.text).group(1)
    paired = await nlv_admin.form("/admin/peers", {"base_url": nlc["url"], "code": code, "pair_institution_id": str(nlv["ids"]["NLC"])})
    assert paired.status_code == 303, paired.text[:500]
    await nlc_admin.raw.aclose()
    await nlv_admin.raw.aclose()


async def _open_agreement(page: Page, base: str) -> None:
    await page.goto(f"{base}/agreements?q={REFERENCE}")
    await page.click(f"#agreement-table a:has-text('{REFERENCE}')")
    await expect(page.locator("h1")).to_contain_text(REFERENCE)


async def _add_commitment(page: Page, text: str, target: str = "", unit: str = "") -> None:
    await page.click("#commitments summary:has-text('Add a commitment')")
    await page.fill("#commitments #f-text", text)
    if target:
        await page.fill("#commitments #f-yearly_target", target)
        await page.fill("#commitments #f-unit", unit)
    await page.click("#commitments button:has-text('Add commitment')")
    await expect(page.locator("#commitments")).to_contain_text(text)


async def test_two_libraries_approve_the_same_agreement(libraries, chromium_path):
    nlv, nlc = libraries["nlv"], libraries["nlc"]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        at_nlv = await (await browser.new_context()).new_page()
        at_nlc = await (await browser.new_context()).new_page()
        await sign_in(at_nlv, nlv["url"], "coordinator")
        await sign_in(at_nlc, nlc["url"], "coordinator")

        # NLV's coordinator asks NLC's instance to approve the agreement as NLV records it.
        await _open_agreement(at_nlv, nlv["url"])
        first_hash = await at_nlv.locator("#snapshot-hash").inner_text()
        await at_nlv.click("#approvals button:has-text('Ask the partner to approve')")
        ours = at_nlv.locator("#approvals tbody tr", has_text=nlc["url"])  # the demo world has its history before
        asked = ours.last
        await expect(asked).to_contain_text("We asked NLC")
        await expect(asked).to_contain_text("waiting for an answer")
        await expect(asked).to_contain_text(first_hash)

        # NLC's coordinator finds the request from the agreements list, matched to NLC's own record.
        await at_nlc.goto(f"{nlc['url']}/agreements")
        await expect(at_nlc.locator("main")).to_contain_text("1 waiting for our answer")
        await at_nlc.click("text=Approval requests between instances")
        await at_nlc.click("text=NLV asked us")
        await expect(at_nlc.locator("h1")).to_contain_text(f"Approval request from NLV · {REFERENCE}")
        await expect(at_nlc.locator("#asked-hash")).to_have_text(first_hash)
        await expect(at_nlc.locator("main dl")).to_contain_text(REFERENCE)  # our record, found by reference and parties
        # Side by side, every difference listed: the commitment only NLC's record has.
        differences = at_nlc.locator("#side-by-side")
        await expect(differences).to_contain_text("1 difference:")
        await expect(differences.locator("ul.diff del")).to_contain_text(EXCHANGE)
        await at_nlc.fill("#f-comment", "Article 4 of our signed copy: 200 titles a year are exchanged. Please add it.")
        await at_nlc.click("button:has-text('Send the comment')")
        await expect(at_nlc.locator("h1 + .badge, .actions .badge").first).to_have_text("commented")

        # The comment reaches NLV's page.
        await at_nlv.reload()
        await expect(ours.last).to_contain_text("commented")
        await expect(at_nlv.locator("#approvals")).to_contain_text("Article 4 of our signed copy")

        # NLV adds the commitment (the hash changes) and asks again; NLC now sees no difference and approves that hash.
        await _add_commitment(at_nlv, EXCHANGE, "200", "titles")
        second_hash = await at_nlv.locator("#snapshot-hash").inner_text()
        assert second_hash != first_hash
        await at_nlv.click("#approvals button:has-text('Ask the partner to approve')")
        await expect(ours).to_have_count(2)

        await at_nlc.goto(f"{nlc['url']}/approvals")
        await at_nlc.locator("tbody tr", has_text="waiting for an answer").locator("text=NLV asked us").click()
        await expect(at_nlc.locator("#asked-hash")).to_have_text(second_hash)
        await expect(at_nlc.locator("#no-difference")).to_be_visible()
        await at_nlc.click("button:has-text('Approve these conditions')")
        await expect(at_nlc.locator(".actions .badge").first).to_have_text("approved")

        await at_nlv.reload()
        approved = ours.last
        await expect(approved).to_contain_text("approved")
        await expect(approved).to_contain_text(second_hash)
        await expect(approved.locator("td").nth(4)).to_contain_text("Trần Thu Hà")  # who approved: NLC's coordinator

        # A later change at NLV: the approval is outdated, with what changed since.
        await _add_commitment(at_nlv, "Joint exhibition on the two libraries' rare books in 2027")
        approved = ours.last
        await expect(approved).to_contain_text("outdated")
        await expect(approved).to_contain_text("Changed since it was approved:")
        await expect(approved.locator("ins")).to_contain_text("Joint exhibition on the two libraries' rare books in 2027")
        await browser.close()

    # Both sides keep the approval: the hash, who, when, and the signed message that carried it.
    def kept(direction):
        async def work(session):
            return (await session.execute(select(A).where(A.state == "approved", A.direction == direction, _live))).scalars().one()

        return work

    at_nlv_side, at_nlc_side = await _in(nlv["settings"], kept("asked")), await _in(nlc["settings"], kept("received"))
    assert at_nlv_side.hash == at_nlc_side.hash and at_nlv_side.exchange_id == at_nlc_side.exchange_id
    assert at_nlv_side.direction == "asked" and at_nlc_side.direction == "received"
    assert at_nlv_side.answered_by == at_nlc_side.answered_by and at_nlv_side.answered_at is not None
    # The answer NLV kept is the message NLC signed: it verifies, by NLC's published key, as it came.
    assert at_nlv_side.answer_message == at_nlc_side.answer_message
    assert json.loads(at_nlv_side.answer_message["body"])["sha256"] == at_nlv_side.hash
    assert 'keyid="ed25519-' in at_nlv_side.answer_message["signature-input"]

    # The dossier PDF holds the history of the conditions and their approvals.
    coordinator = await _signed_in(nlv["url"], "coordinator")
    agreement_id = await _in(nlv["settings"], lambda s: s.scalar(select(Agreement.id).where(Agreement.reference == REFERENCE)))
    asked = await coordinator.api("POST", "/api/v1/reports", json={"kind": "agreement", "scope_id": str(agreement_id), "language": "en"})
    assert asked.status_code == 202, asked.text
    for _ in range(300):
        run = (await coordinator.api("GET", f"/api/v1/reports/{asked.json()['id']}")).json()
        if run["status"] != "rendering":
            break
        await asyncio.sleep(0.2)
    assert run["status"] == "ready", run
    pdf = (await coordinator.get(run["download_url"])).content
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))
    assert "Conditions and approvals" in text and "We asked NLC" in text
    assert "commented" in text and "outdated" in text and "Joint exhibition" in text, text[-1500:]
    await coordinator.raw.aclose()


async def _signed(side: dict, path: str, payload: object, *, to: str) -> tuple[str, bytes, dict[str, str]]:
    """A request signed with `side`'s own key, as its instance would send it to `to`."""

    async def key(session):
        return await peers.signing_key(session, side["settings"])

    key_id, private, _ = await _in(side["settings"], key)
    body = json.dumps(payload).encode()
    url = to + path
    return url, body, peers.sign(key_id, private, "POST", url, body, recipient=await recipient_of(to))


async def test_what_the_instances_refuse(libraries):
    nlv, nlc = libraries["nlv"], libraries["nlc"]
    nlv_coordinator, nlc_coordinator = await _signed_in(nlv["url"], "coordinator"), await _signed_in(nlc["url"], "coordinator")
    agreement_id = await _in(nlv["settings"], lambda s: s.scalar(select(Agreement.id).where(Agreement.reference == REFERENCE)))
    page = (await nlv_coordinator.get(f"/agreements/{agreement_id}")).text
    peer_id = re.search(r'name="peer_id" id="f-peer_id"><option value="([0-9a-f-]{36})"', page).group(1)
    assert (await nlv_coordinator.form(f"/agreements/{agreement_id}/approval", {"peer_id": peer_id})).status_code == 303

    async def pending(session):
        return (await session.execute(select(A).where(A.state == "pending"))).scalars().one()

    asked, received = await _in(nlv["settings"], pending), await _in(nlc["settings"], pending)
    assert asked.exchange_id == received.exchange_id

    async with httpx.AsyncClient() as wire:
        # A snapshot altered in transit: NLV's signature no longer verifies, NLC keeps nothing.
        url, body, headers = await _signed(
            nlv, "/federation/approvals", {"exchange_id": str(uuid.uuid4()), "sha256": "0" * 64, "asked_by": "x"}, to=nlc["url"]
        )
        altered = await wire.post(url, content=body.replace(b"0000", b"1111", 1), headers=headers)
        assert altered.status_code == 401 and "does not verify" in altered.json()["detail"]
        # A snapshot that does not have the hash announced is refused by field.
        forged = await wire.post(url, content=body, headers=headers)
        assert forged.status_code == 422 and "exchange_id" in forged.json()["errors"]
        # A replayed message: the same signed request a second time.
        again = await wire.post(url, content=body, headers=headers)
        assert again.status_code == 401 and "replay" in again.json()["detail"]
        # The snapshot NLV asked about is NLC's to fetch, signed; not anyone's.
        snapshot_url = f"{nlv['url']}/federation/approvals/{asked.exchange_id}/snapshot"
        assert (await wire.post(snapshot_url, content=b"{}")).status_code == 401
        stranger = Ed25519PrivateKey.generate()
        stranger_id = peers.key_id_of(stranger.public_key().public_bytes_raw())
        signed = peers.sign(stranger_id, stranger, "POST", snapshot_url, b"{}", recipient="x")
        unpaired = await wire.post(snapshot_url, content=b"{}", headers=signed)
        assert unpaired.status_code == 401 and "No instance paired" in unpaired.json()["detail"]
        # An approval of a hash other than the one asked is refused, even signed by the right instance.
        url, body, headers = await _signed(
            nlc,
            "/federation/approvals/answer",
            {"exchange_id": str(asked.exchange_id), "decision": "approved", "sha256": "f" * 64, "by": "someone"},
            to=nlv["url"],
        )
        wrong_hash = await wire.post(url, content=body, headers=headers)
        assert wrong_hash.status_code == 409, wrong_hash.text

    # NLV changes the conditions while NLC reads them: NLC's approval of the outdated hash is refused, and says so.
    async def change(session):
        session.add(Commitment(agreement_id=agreement_id, position=20, text="Staff exchange of two librarians a year"))

    await _in(nlv["settings"], change)
    refused = await nlc_coordinator.form(f"/approvals/{received.id}/answer", {"decision": "approved", "sha256": received.hash})
    assert refused.status_code == 409 and "outdated hash" in refused.text
    # Nothing changed on either side: the request still waits for an answer.
    assert (await _in(nlv["settings"], pending)).state == (await _in(nlc["settings"], pending)).state == "pending"

    # A snapshot whose values cannot be an agreement here (a date that is not one) is refused by field, not a 500.
    async def odd_request(session):
        peer = (await session.execute(select(Peer).where(Peer.archived_at.is_(None)))).scalars().one()
        names = {"from_party": "National Library of Vietnam", "to_party": "National Library of China"}
        odd = A(exchange_id=uuid.uuid4(), peer_id=peer.id, direction="received", reference="ODD-1", hash="0" * 64, asked_by="x", **names)
        odd.snapshot = {"reference": "ODD-1", "title": "Odd", "kind": "other", "signed_on": "the first of May"}
        odd.snapshot["parties"] = [{"name": names["from_party"]}, {"name": names["to_party"]}]
        session.add(odd)
        await session.flush()
        return odd.id

    odd_id = await _in(nlc["settings"], odd_request)
    drafted = await nlc_coordinator.form(f"/approvals/{odd_id}/link", {"agreement_id": "new"})
    assert drafted.status_code == 422 and "cannot be made into an agreement here" in drafted.text
    # A comment still goes through; an empty one is refused by field.
    empty = await nlc_coordinator.form(f"/approvals/{received.id}/answer", {"decision": "commented", "comment": " "})
    assert empty.status_code == 422 and "say what should change" in empty.text
    await nlv_coordinator.raw.aclose()
    await nlc_coordinator.raw.aclose()


async def test_a_request_for_an_agreement_the_partner_never_recorded_becomes_its_draft(libraries, chromium_path):
    """NLC's instance finds no record of NLV's new agreement: its coordinator makes a draft from NLV's conditions, reads
    that the two now agree, and approves."""
    nlv, nlc = libraries["nlv"], libraries["nlc"]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        at_nlv = await (await browser.new_context()).new_page()
        at_nlc = await (await browser.new_context()).new_page()
        await sign_in(at_nlv, nlv["url"], "coordinator")
        await sign_in(at_nlc, nlc["url"], "coordinator")
        await at_nlv.goto(f"{nlv['url']}/agreements?q={PUBLICATIONS}")
        await at_nlv.click(f"#agreement-table a:has-text('{PUBLICATIONS}')")
        await at_nlv.click("#approvals button:has-text('Ask the partner to approve')")
        await expect(at_nlv.locator("#approvals tbody tr", has_text=nlc["url"]).last).to_contain_text("waiting for an answer")

        await at_nlc.goto(f"{nlc['url']}/approvals")
        await at_nlc.locator("tbody tr", has_text=PUBLICATIONS).locator("text=NLV asked us").click()
        await expect(at_nlc.locator("#link")).to_contain_text(f"No agreement of ours has the reference {PUBLICATIONS}")
        # Conditions in words, not stored values: the kind, "no" for a renewal that is not automatic.
        await expect(at_nlc.locator("#side-by-side")).not_to_contain_text("exchange_of_publications")
        await expect(at_nlc.locator("#side-by-side")).not_to_contain_text("False")
        await expect(at_nlc.locator("#side-by-side tr", has_text="Renews automatically")).to_contain_text("no")
        await at_nlc.select_option("#f-agreement_id", label="A new draft made from their conditions")
        await at_nlc.click("button:has-text('Use this record')")
        await expect(at_nlc.locator("main dl")).to_contain_text(PUBLICATIONS)  # our record now, a draft
        await expect(at_nlc.locator("#no-difference")).to_be_visible()  # parties, dates, commitment: all carried over
        await at_nlc.click("button:has-text('Approve these conditions')")
        await expect(at_nlc.locator(".actions .badge").first).to_have_text("approved")
        await at_nlc.click(f"main dl a:has-text('{PUBLICATIONS}')")
        await expect(at_nlc.locator("h1 + .badge, .actions .badge").first).to_contain_text("Draft")
        await expect(at_nlc.locator("#commitments")).to_contain_text("Each library sends 150 new titles a year")

        await at_nlv.reload()
        await expect(at_nlv.locator("#approvals tbody tr", has_text=nlc["url"]).last).to_contain_text("approved")
        await browser.close()
