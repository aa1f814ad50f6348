"""Demo agreements around the seed story (the April 2025 NLV–NLC agreement) and a synthetic generator."""

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from agreements import approval_services
from agreements.models import Agreement, AgreementApproval, AgreementParty, Commitment
from cooperation import audit
from cooperation.auth.access import operator
from cooperation.db import table, utcnow
from cooperation.demo import DemoWorld
from cooperation.partners.models import Institution
from cooperation.peers.models import Peer
from cooperation.records import fold_for_search


def _agreement(
    world: DemoWorld,
    session: AsyncSession,
    *,
    reference: str,
    title: str,
    kind: str,
    status: str,
    parties: list[tuple[str, str | None, str | None, date | None]],
    summary: str = "",
    tags: list[str] | None = None,
    title_native: str | None = None,
    signed_on: date | None = None,
    effective_on: date | None = None,
    expires_on: date | None = None,
    auto_renew: bool = False,
    renewal_term_months: int | None = None,
    notice_period_days: int | None = None,
    confidentiality: str = "parties",
    predecessor_id: uuid.UUID | None = None,
    translations: dict[str, dict[str, str]] | None = None,
    prevailing_language: str | None = None,
) -> Agreement:
    agreement = Agreement(
        reference=reference,
        title=title,
        title_native=title_native,
        kind=kind,
        status=status,
        summary=summary,
        scope_tags=tags or [],
        signed_on=signed_on,
        effective_on=effective_on,
        expires_on=expires_on,
        auto_renew=auto_renew,
        renewal_term_months=renewal_term_months,
        notice_period_days=notice_period_days,
        confidentiality=confidentiality,
        predecessor_id=predecessor_id,
        translations=translations or {},
        prevailing_language=prevailing_language,
        search_text=fold_for_search(
            reference,
            title,
            title_native,
            summary,
            " ".join(tags or []),
            " ".join(t for v in (translations or {}).values() for t in v.values()),
        ),
    )
    session.add(agreement)
    for position, (code, signatory, signatory_title, party_signed) in enumerate(parties):
        session.add(
            AgreementParty(
                agreement_id=agreement.id,
                institution_id=world.institutions[code],
                position=position,
                signatory_name=signatory,
                signatory_title=signatory_title,
                signed_on=party_signed,
            )
        )
    audit.record(session, None, "create", "agreement", agreement.id, summary=f"Demo data: {reference}")
    return agreement


async def load_demo(session: AsyncSession, world: DemoWorld) -> None:
    today = utcnow().date()
    signed = date(2025, 4, 10)  # the article says April 2025; the day is the demo's choice
    nlc = _agreement(
        world,
        session,
        reference="NLV-NLC-2025",
        confidentiality="public",  # announced in the press, as the seed article shows
        title="Cooperation Agreement between the National Library of Vietnam and the National Library of China",
        title_native="Thỏa thuận hợp tác giữa Thư viện Quốc gia Việt Nam và Thư viện Quốc gia Trung Quốc · 中越国家图书馆合作协议",
        kind="cooperation_agreement",
        status="in_force",
        parties=[("NLV", "Nguyễn Xuân Dũng", "Director", signed), ("NLC", None, "Director", signed)],
        summary=(
            "Framework for cooperation in the digital environment: exchange of professional experience and delegations, "
            "library products and services for readers (smart libraries, IoT, RFID, AR/VR), and the preservation and "
            "digitization of documentary heritage, including ancient books."
        ),
        tags=["digital services", "smart library", "digitization", "ancient books", "expert exchange"],
        signed_on=signed,
        effective_on=signed,
        expires_on=date(2030, 4, 9),
        auto_renew=True,
        renewal_term_months=60,
        notice_period_days=180,
        # Signed in Vietnamese, Chinese and English; the English text prevails in case of divergence.
        translations={
            "vi": {"title": "Thỏa thuận hợp tác giữa Thư viện Quốc gia Việt Nam và Thư viện Quốc gia Trung Quốc"},
            "zh_Hans": {"title": "中国国家图书馆与越南国家图书馆合作协议"},
        },
        prevailing_language="en",
    )
    await session.flush()
    commitments = [
        ("Exchange expert delegations: at least one working visit each way per year", None, None, 2, "visits", "in_progress", 25),
        (
            "Share experience on smart-library reader services (IoT, RFID, smart shelving, AR/VR)",
            "NLC",
            None,
            None,
            None,
            "in_progress",
            40,
        ),
        ("Cooperate on the preservation and digitization of ancient books", None, date(2027, 12, 31), None, None, "planned", 0),
        ("Host NLC experts for a working session on digital products and services", "NLV", date(2025, 12, 31), None, None, "done", 100),
        ("Develop a programme of professional exchanges for 2026–2028", "NLV", date(2026, 6, 30), None, None, "planned", 0),
    ]
    for position, (text, responsible, due, target, unit, status, progress) in enumerate(commitments):
        session.add(
            Commitment(
                agreement_id=nlc.id,
                position=position,
                text=text,
                responsible_institution_id=world.institutions[responsible] if responsible else None,
                due_on=due,
                yearly_target=target,
                unit=unit,
                status=status,
                progress=progress,
            )
        )
    _agreement(
        world,
        session,
        reference="NLV-BNF-2019",
        title="Memorandum of understanding on cooperation in heritage collections",
        title_native="Mémorandum d'entente sur la coopération en matière de collections patrimoniales",
        kind="memorandum_of_understanding",
        status="expired",
        parties=[("NLV", "Nguyễn Xuân Dũng", "Director", date(2019, 10, 2)), ("BNF", None, "Président", date(2019, 10, 2))],
        summary="Exchange of expertise on the conservation of Vietnamese holdings in French collections (Hán Nôm manuscripts).",
        tags=["heritage", "conservation", "hán nôm"],
        signed_on=date(2019, 10, 2),
        effective_on=date(2019, 10, 2),
        expires_on=date(2024, 10, 1),
        notice_period_days=90,
    )
    _agreement(
        world,
        session,
        reference="NLV-NDL-2021",
        title="Agreement on the exchange of publications",
        kind="exchange_of_publications",
        status="in_force",
        parties=[("NLV", None, None, date(2021, 6, 1)), ("NDL", None, None, date(2021, 6, 1))],
        summary="Yearly exchange of official publications and national bibliographies.",
        tags=["exchange of publications"],
        signed_on=date(2021, 6, 1),
        effective_on=date(2021, 6, 1),
        expires_on=today + timedelta(days=45),
        notice_period_days=60,
    )
    _agreement(
        world,
        session,
        reference="NLV-NLK-2026",
        title="Staff exchange agreement",
        kind="staff_exchange",
        status="negotiating",
        parties=[("NLV", None, None, None), ("NLK", None, None, None)],
        summary="Two-week placements of librarians in each other's digital services departments.",
        tags=["expert exchange"],
    )
    nlr = _agreement(
        world,
        session,
        reference="NLV-NLR-2020",
        title="Cooperation agreement on digitization of Russian-language collections",
        kind="digitization",
        status="in_force",
        parties=[("NLV", None, None, date(2020, 9, 15)), ("NLR", None, None, date(2020, 9, 15))],
        summary="Joint digitization of Russian-language scientific literature held by the National Library of Vietnam.",
        tags=["digitization"],
        signed_on=date(2020, 9, 15),
        effective_on=date(2020, 9, 15),
        expires_on=date(2025, 9, 14),
        notice_period_days=90,
    )
    await session.flush()
    _agreement(
        world,
        session,
        reference="NLV-NLR-2020-R1",
        title="Cooperation agreement on digitization of Russian-language collections",
        kind="digitization",
        status="negotiating",
        parties=[("NLV", None, None, None), ("NLR", None, None, None)],
        summary="Joint digitization of Russian-language scientific literature, extended to periodicals.",
        tags=["digitization", "periodicals"],
        effective_on=date(2025, 9, 15),
        expires_on=date(2030, 9, 14),
        notice_period_days=90,
        predecessor_id=nlr.id,
    )
    _agreement(
        world,
        session,
        reference="NLV-NLL-2024",
        title="Support for the National Library of Laos in cataloguing and digitization",
        kind="digitization",
        status="in_force",
        parties=[("NLV", None, None, date(2024, 3, 20)), ("NLL", None, None, date(2024, 3, 20))],
        summary="Internal note: budget lines and training plan under discussion with the Ministry.",
        tags=["training", "digitization"],
        signed_on=date(2024, 3, 20),
        effective_on=date(2024, 3, 20),
        confidentiality="internal",
    )
    await session.flush()
    await _approvals(session, world, nlc.id)


async def _approvals(session: AsyncSession, world: DemoWorld, agreement_id: uuid.UUID) -> None:
    """The NLV–NLC agreement approved between the two libraries' instances in May 2025: NLC's instance asked first and
    NLV's coordinator commented (NLC's record had a 90-day notice period, the signed text says 180); then NLV asked and
    NLC approved. NLC has since moved its instance to a new address: the pairing is to be renewed (so the demo, which
    has no partner instance to talk to, offers no request to send)."""
    ours = await approval_services.snapshot(session, operator(), agreement_id)
    theirs = {**ours, "reference": "NLC-NLV-2025", "notice_period_days": 90}  # each library has its own reference
    moved = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    peer = Peer(
        base_url="https://libcoop.nlc.example",
        key_id="ed25519-" + "0" * 32,
        public_key="A" * 43,
        institution_id=world.institutions["NLC"],
        their_code="NLC",
        their_name="National Library of China",
        paired_by="LibCoop Administrator",
        archived_at=moved,
        created_at=datetime(2025, 5, 5, 2, 0, tzinfo=UTC),
    )
    session.add(peer)
    await session.flush()
    nlc_name, nlv_name = "National Library of China", "National Library of Vietnam"
    session.add_all(
        [
            AgreementApproval(
                exchange_id=uuid.UUID("6f1d2c3b-0000-4000-8000-000000000001"),
                peer_id=peer.id,
                direction="received",
                agreement_id=agreement_id,
                reference="NLC-NLV-2025",
                hash=approval_services.digest(theirs),
                snapshot=theirs,
                state="commented",
                asked_by="王芳 (Wang Fang)",
                asked_at=datetime(2025, 5, 8, 2, 30, tzinfo=UTC),
                answered_by="Trần Thu Hà",
                answered_at=datetime(2025, 5, 9, 8, 15, tzinfo=UTC),
                comment="Article 9 of the signed text gives a notice period of 180 days, not 90. Please correct your record.",
                from_party=nlc_name,
                to_party=nlv_name,
            ),
            AgreementApproval(
                exchange_id=uuid.UUID("6f1d2c3b-0000-4000-8000-000000000002"),
                peer_id=peer.id,
                direction="asked",
                agreement_id=agreement_id,
                reference="NLV-NLC-2025",
                hash=approval_services.digest(ours),
                snapshot=ours,
                state="approved",
                asked_by="Trần Thu Hà",
                asked_at=datetime(2025, 5, 12, 3, 0, tzinfo=UTC),
                answered_by="王芳 (Wang Fang)",
                answered_at=datetime(2025, 5, 14, 1, 40, tzinfo=UTC),
                from_party=nlv_name,
                to_party=nlc_name,
            ),
        ]
    )
    await session.flush()


COUNTRIES = ["CN", "FR", "JP", "KR", "RU", "LA", "KH", "TH", "DE", "GB", "US", "IN", "ID", "MY", "SG", "PH", "AU", "CA", "IT", "ES"]
KINDS = ["memorandum_of_understanding", "cooperation_agreement", "exchange_of_publications", "digitization", "staff_exchange"]
STATUSES = ["in_force", "in_force", "in_force", "expired", "negotiating", "draft", "signed", "terminated"]
SYNTHETIC_NATIVE = [
    "Thỏa thuận hợp tác giữa Thư viện Quốc gia Việt Nam và {code} số {n}",
    "中华古籍数字化合作协议（{code}，第{n}号）",
    "Biên bản ghi nhớ về trao đổi chuyên gia với {code}",
    "出版物交换协议 · {code}",
    "Mémorandum d’entente sur les collections patrimoniales ({code})",
    "",
]


async def load_scale(session: AsyncSession, scale: int) -> int:
    """Synthetic agreements for benchmarks: 10 per unit of scale, spread over scale // 10 + 10 partners.

    Written with bulk Core inserts (this is data generation, not user input).
    """
    home = await session.scalar(select(col(Institution.id)).where(col(Institution.is_home).is_(True)))
    if home is None:
        raise RuntimeError("load the demo world first (coop demo load)")
    existing = await session.scalar(select(col(Agreement.id)).where(col(Agreement.reference).startswith("SYN-")).limit(1))
    if existing is not None:
        raise RuntimeError("synthetic data is already loaded")
    now = utcnow()
    partner_count = min(scale // 10 + 10, 5000)
    partners = []
    for n in range(partner_count):
        code = f"SYN{n:04d}"
        name = f"Synthetic Partner Library {n:04d}"
        partners.append(
            {
                "id": uuid.uuid4(),
                "code": code,
                "name": name,
                "name_native": None,
                "country": COUNTRIES[n % len(COUNTRIES)],
                "city": None,
                "kind": "national_library",
                "website": None,
                "is_home": False,
                "active": True,
                "search_text": fold_for_search(code, name),
                "created_at": now,
                "updated_at": now,
                "version": 1,
                "archived_at": None,
            }
        )
    await session.execute(insert(table(Institution)), partners)
    total = scale * 10
    batch: list[dict] = []
    party_batch: list[dict] = []
    commitment_batch: list[dict] = []
    base = date(2015, 1, 1)
    for n in range(total):
        agreement_id = uuid.uuid4()
        signed = base + timedelta(days=(n * 37) % 3650)
        partner = partners[n % partner_count]
        reference = f"SYN-{n:07d}"
        title = f"{KINDS[n % len(KINDS)].replace('_', ' ').capitalize()} with {partner['name']}"
        # Titles in the scripts the department searches in (bench/search.py): Vietnamese, Chinese, French, or none.
        title_native = SYNTHETIC_NATIVE[n % len(SYNTHETIC_NATIVE)].format(code=partner["code"], n=n) or None
        batch.append(
            {
                "id": agreement_id,
                "reference": reference,
                "title": title,
                "title_native": title_native,
                "kind": KINDS[n % len(KINDS)],
                "summary": "Synthetic agreement generated for load testing.",
                "scope_tags": ["synthetic"],
                "status": STATUSES[n % len(STATUSES)],
                "signed_on": signed,
                "effective_on": signed,
                "expires_on": signed + timedelta(days=365 * 5),
                "auto_renew": False,
                "renewal_term_months": None,
                "notice_period_days": 90,
                "confidentiality": "parties",
                "predecessor_id": None,
                "status_note": None,
                "search_text": fold_for_search(reference, title, title_native, "synthetic"),
                "created_at": now,
                "updated_at": now,
                "version": 1,
                "archived_at": None,
            }
        )
        for position, institution_id in enumerate((home, partner["id"])):
            party_batch.append(
                {
                    "id": uuid.uuid4(),
                    "agreement_id": agreement_id,
                    "institution_id": institution_id,
                    "position": position,
                    "signatory_name": None,
                    "signatory_title": None,
                    "signed_on": signed,
                }
            )
        commitment_batch.append(
            {
                "id": uuid.uuid4(),
                "agreement_id": agreement_id,
                "position": 0,
                "text": "Exchange two experts a year",
                "responsible_institution_id": None,
                "due_on": None,
                "yearly_target": 2,
                "unit": "experts",
                "status": "in_progress",
                "progress": n % 101,
                "notes": None,
                "created_at": now,
                "updated_at": now,
                "version": 1,
                "archived_at": None,
            }
        )
        if len(batch) >= 2000:
            await _flush(session, batch, party_batch, commitment_batch)
    await _flush(session, batch, party_batch, commitment_batch)
    return total


async def _flush(session: AsyncSession, agreements: list[dict], parties: list[dict], commitments: list[dict]) -> None:
    if agreements:
        await session.execute(insert(table(Agreement)), agreements)
        await session.execute(insert(table(AgreementParty)), parties)
        await session.execute(insert(table(Commitment)), commitments)
    agreements.clear()
    parties.clear()
    commitments.clear()
