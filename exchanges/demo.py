"""The seed story: the working visit of two National Library of China experts to Hanoi, 26–29 November 2025."""

from datetime import date, time
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from stdnum import ean, isbn

from agreements.models import Agreement, Commitment, CommitmentLink
from cooperation import audit
from cooperation.demo import DemoWorld
from cooperation.followups import FollowUp
from cooperation.partners.models import Person
from cooperation.records import fold_for_search
from exchanges.models import AgendaItem, ExchangeArrangement, Gift, Shipment, ShipmentItem, Visit, VisitOutcome, VisitParticipant

TITLE = "Working visit of National Library of China experts"
THEME = "Library products and services in the digital environment"
TOPICS = [
    "smart library",
    "iot",
    "rfid",
    "smart shelving",
    "indoor positioning",
    "ar/vr",
    "ancient books",
    "digitization",
    "reader services",
]


async def load_demo(session: AsyncSession, world: DemoWorld) -> None:
    agreement_id = await session.scalar(select(col(Agreement.id)).where(col(Agreement.reference) == "NLV-NLC-2025"))
    hosting = await session.scalar(
        select(col(Commitment.id)).where(col(Commitment.agreement_id) == agreement_id, col(Commitment.text).startswith("Host NLC experts"))
    )
    # The visit is also one of the yearly expert delegations the agreement asks for (measured by the visits linked).
    delegations = await session.scalar(
        select(col(Commitment.id)).where(
            col(Commitment.agreement_id) == agreement_id, col(Commitment.text).startswith("Exchange expert delegations")
        )
    )
    served = [c for c in (hosting, delegations) if c]
    purpose = (
        "At the invitation of the National Library of Vietnam, a delegation of experts of the National Library of China "
        "made a working visit to Hanoi to exchange professional experience, strengthen mutual understanding and widen "
        "the cooperation between the two national libraries. It is the first step in implementing the cooperation "
        "agreement the two libraries signed in April 2025."
    )
    visit = Visit(
        title=TITLE,
        direction="incoming",
        host_institution_id=world.institutions["NLV"],
        visiting_institution_id=world.institutions["NLC"],
        starts_on=date(2025, 11, 26),
        ends_on=date(2025, 11, 29),
        city="Hà Nội",
        venue="National Library of Vietnam",
        purpose=purpose,
        theme=THEME,
        topics=TOPICS,
        status="completed",
        public=True,  # the seed article itself: published news
        summary_publication="published",
        shared=True,  # NLC's librarians work on it with us
        agreement_id=agreement_id,
        commitment_ids=[str(c) for c in served],
        search_text=fold_for_search(TITLE, THEME, "Hà Nội", purpose, " ".join(TOPICS)),
        report=(
            "Both sides shared the view that new technologies do not diminish the role of libraries: they are a lever for "
            "their continuous transformation. Library staff are called to become architects of smart services, key actors "
            "in enhancing knowledge data, and a driving force of interdisciplinary cooperation."
        ),
    )
    session.add(visit)
    await session.flush()
    people = world.people
    participants = [
        ("rong_jie", "delegation", "head_of_delegation"),
        ("luo_chong", "delegation", "member"),
        ("dung", "host", "chair"),
        ("ngoc_anh", "host", "participant"),
    ]
    for position, (key, side, role) in enumerate(participants):
        person = await session.get(Person, people[key])
        session.add(
            VisitParticipant(
                visit_id=visit.id,
                person_id=people[key],
                side=side,
                role=role,
                position=position,
                position_at_time=person.position if person else None,
                department_at_time=person.department if person else None,
            )
        )
    agenda = [
        (date(2025, 11, 26), time(9, 0), "Arrival of the delegation and welcome", [], None),
        (
            date(2025, 11, 27),
            time(9, 0),
            "Working session chaired by the Director of the National Library of Vietnam",
            ["dung"],
            "With the Deputy Director, managers and professional staff of the NLV departments.",
        ),
        (
            date(2025, 11, 27),
            time(9, 45),
            (
                "Reader services of the National Library of China: smart library initiatives "
                "(IoT, indoor positioning, RFID, smart shelving; AR/VR)"
            ),
            ["rong_jie"],
            None,
        ),
        (
            date(2025, 11, 27),
            time(10, 45),
            (
                "The Smart Services Platform for Chinese Ancient Books "
                "(launched April 2025: 180+ institutions, about 13,000 titles, 140,000+ volumes)"
            ),
            ["luo_chong"],
            None,
        ),
        (date(2025, 11, 27), time(11, 30), "Discussion: library products and services in the digital environment", [], None),
        (date(2025, 11, 28), time(9, 0), "Exchange of commemorative gifts and souvenir photo", [], None),
    ]
    for position, (day, start, title, presenters, notes) in enumerate(agenda):
        session.add(
            AgendaItem(
                visit_id=visit.id,
                day=day,
                starts_at=start,
                title=title,
                place="National Library of Vietnam",
                presenters=[str(people[p]) for p in presenters],
                notes=notes,
                position=position,
            )
        )
    outcomes = [
        "A shared view: new technologies are a lever for the transformation of libraries, not a threat to their role.",
        "New directions for cooperation: developing smart library models.",
        "New directions for cooperation: better reader services through digital products and services.",
        "New directions for cooperation: preservation and digitization of documentary heritage.",
        "The visit is the first step in implementing the cooperation agreement signed in April 2025.",
    ]
    # What both sides agreed is shared with NLC (and on the portal with the published summary).
    session.add_all(VisitOutcome(visit_id=visit.id, text=text, audience="partners", position=i) for i, text in enumerate(outcomes))
    # The gifts exchanged on the 28th, as the protocol register keeps them (who gave what, and where it went).
    nlv, nlc = world.institutions["NLV"], world.institutions["NLC"]
    given = Gift(
        visit_id=visit.id,
        direction="given",
        given_on=date(2025, 11, 28),
        giver_institution_id=nlv,
        giver_person_id=people["dung"],
        recipient_institution_id=nlc,
        recipient_person_id=people["rong_jie"],
        description="Commemorative gifts from the Director of the National Library of Vietnam",
        minimal_value=True,
        search_text=fold_for_search("Commemorative gifts from the Director of the National Library of Vietnam"),
    )
    received = Gift(
        visit_id=visit.id,
        position=1,
        direction="received",
        given_on=date(2025, 11, 28),
        giver_institution_id=nlc,
        giver_person_id=people["rong_jie"],
        recipient_institution_id=nlv,
        recipient_person_id=people["dung"],
        description="Commemorative gifts from the National Library of China experts",
        minimal_value=True,
        disposition="on_display",
        custodian="International Cooperation Department",
        location="Reception room, 1st floor",
        disposition_on=date(2025, 12, 1),
        search_text=fold_for_search("Commemorative gifts from the National Library of China experts"),
    )
    session.add_all([given, received])
    await session.flush()
    given.reciprocal_gift_id, received.reciprocal_gift_id = received.id, given.id
    for commitment_id in served:
        session.add(CommitmentLink(commitment_id=commitment_id, record_type="visit", record_id=visit.id, label=f"{TITLE} (26–29 Nov 2025)"))
    # What the article leaves implicit, made explicit: who follows up on what, by when.
    follow_ups = [
        ("Propose a 2026–2028 programme of professional exchanges to the National Library of China", "NLV", "ngoc_anh", date(2026, 3, 31)),
        ("Send the documentation of the Smart Services Platform for Chinese Ancient Books", "NLC", "luo_chong", date(2026, 1, 31)),
        ("Assess RFID and smart shelving for the NLV reading rooms", "NLV", "dung", date(2026, 6, 30)),
    ]
    for text, code, who, due in follow_ups:
        session.add(
            FollowUp(
                owner_type="visit",
                owner_id=visit.id,
                text=text,
                responsible_institution_id=world.institutions[code],
                responsible_person_id=people[who],
                due_on=due,
            )
        )
    audit.record(session, None, "create", "visit", visit.id, summary="Demo data: the seed visit")
    await session.flush()
    await _load_publications(session, world)


def _isbn(prefix: str, number: int) -> str:
    """A well-formed ISBN-13 in a country's range (the demo's titles are made up; their check digits are right)."""
    body = f"{prefix}{number:0{12 - len(prefix)}d}"
    return isbn.format(body + ean.calc_check_digit(body))


async def _load_publications(session: AsyncSession, world: DemoWorld) -> None:
    """The exchange of publications with the National Diet Library under NLV-NDL-2021: a blanket exchange of official
    publications and the national bibliographies, measured against "100 items a year", with five years of parcels."""
    agreement_id = await session.scalar(select(col(Agreement.id)).where(col(Agreement.reference) == "NLV-NDL-2021"))
    if agreement_id is None:
        return
    ndl = world.institutions["NDL"]
    commitment = Commitment(
        agreement_id=agreement_id,
        text="Exchange at least 100 publications a year each way",
        responsible_institution_id=world.institutions["NLV"],
        yearly_target=100,
        unit="publications",
        status="in_progress",
    )
    session.add(commitment)
    await session.flush()
    arrangement = ExchangeArrangement(
        partner_institution_id=ndl,
        agreement_id=agreement_id,
        commitment_id=commitment.id,
        basis="blanket",
        series="Vietnamese National Bibliography; Japanese National Bibliography; official gazettes",
        subjects="Official publications, Vietnamese and Japanese studies",
        formats=["print", "digital"],
        review_on=date.today().replace(month=12, day=31),
    )
    session.add(arrangement)
    await session.flush()
    this_year = date.today().year
    Item = tuple[str, str, str, int, str | None, str | None]  # title, ISBN prefix, category, copies, value, currency
    parcels: list[tuple[int, int, int, str, str, str | None, list[Item]]] = [
        # (years ago, month, day, direction, status, reference, [(title, prefix, category, copies, value, currency)])
        (
            2,
            3,
            12,
            "sent",
            "acknowledged",
            "NLV-EX-2024-01",
            [("Thư mục quốc gia Việt Nam 2023", "978604", "official", 40, "120000", "VND")],
        ),
        (2, 6, 3, "received", "acknowledged", None, [("日本全国書誌 2023", "9784", "official", 35, "2500", "JPY")]),
        (
            1,
            4,
            8,
            "sent",
            "acknowledged",
            "NLV-EX-2025-01",
            [
                ("Thư mục quốc gia Việt Nam 2024", "978604", "official", 45, "120000", "VND"),
                ("Tạp chí Thư viện Việt Nam", "978604", "serial", 12, None, None),
            ],
        ),
        (
            1,
            9,
            22,
            "received",
            "received",
            None,
            [("日本全国書誌 2024", "9784", "official", 30, "2500", "JPY"), ("国立国会図書館月報", "9784", "serial", 12, None, None)],
        ),
        (
            0,
            2,
            17,
            "sent",
            "sent",
            "NLV-EX-2026-01",
            [
                ("Thư mục quốc gia Việt Nam 2025", "978604", "official", 50, "120000", "VND"),
                ("Di sản Hán Nôm", "978604", "monograph", 10, "250000", "VND"),
            ],
        ),
    ]
    number = 1000
    for years_ago, month, day, direction, status, reference, items in parcels:
        shipped_on = date(this_year - years_ago, month, day)
        shipment = Shipment(
            partner_institution_id=ndl,
            arrangement_id=arrangement.id,
            direction=direction,
            shipped_on=shipped_on,
            reference=reference,
            carrier="EMS" if direction == "sent" else "Japan Post",
            status=status,
            status_on=shipped_on,
            search_text=fold_for_search(reference, *(i[0] for i in items)),
        )
        session.add(shipment)
        await session.flush()
        for position, (title, prefix, category, copies, value, currency) in enumerate(items):
            number += 1
            session.add(
                ShipmentItem(
                    shipment_id=shipment.id,
                    position=position,
                    title=title,
                    identifier=_isbn(prefix, number),
                    category=category,
                    copies=copies,
                    value=Decimal(value) if value else None,
                    currency=currency,
                )
            )
    audit.record(session, None, "create", "exchange_arrangement", arrangement.id, summary="Demo data: the exchange with the NDL")
    await session.flush()
