"""No reference shows what its reader cannot see.

The demo world, with every record the NLC partner sees pointed at records it may not see: an internal NLV–NLC
agreement, the NLV–BnF agreement and its commitment, an NLV–BnF visit, exchange and programme. The partner then
reads everything it can — every GET of the API for every record it sees, every page it can reach, the reports it
can ask for — and none of the hidden records' references, titles, names, texts or ids may appear. The coordinator,
reading the same, finds every one of them (so the test can fail). A last test walks the output schemas: a field
that names another record must be one this test knows.
"""

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from agreements.models import Agreement, AgreementParty, Commitment, CommitmentLink
from cooperation import demo
from cooperation.app import demo_loaders
from cooperation.auth.access import Principal
from cooperation.followups import FollowUp
from cooperation.partners.models import Institution, Person
from cooperation.reports import builders, periods
from exchanges.models import ExpertExchange, Visit
from programs.models import DigitizationProject, Programme, ProgrammeInstitution, ProjectAgreement
from tests.conftest import Client, http_client
from tests.html_forms import read_page

MARK = "ZQX"  # every hidden text carries it, so a leak is found wherever it is printed


@dataclass
class Hidden:
    texts: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    def found_in(self, body: str) -> list[str]:
        return [s for s in [*self.texts, *self.ids] if s in body]


async def hide_references(factory: Any) -> Hidden:
    """Point what NLC shares at what it does not; return what it must never read."""
    hidden = Hidden()
    async with factory() as s:
        code = {c: i for c, i in await s.execute(select(col(Institution.code), col(Institution.id)))}
        nlv, nlc, bnf = code["NLV"], code["NLC"], code["BNF"]
        ref = {r: i for r, i in await s.execute(select(col(Agreement.reference), col(Agreement.id)))}
        shared = ref["NLV-NLC-2025"]

        internal = Agreement(
            reference=f"NLV-NLC-{MARK}-INT",
            title=f"Negotiating brief {MARK}",
            kind="cooperation_agreement",
            status="draft",
            confidentiality="internal",
            search_text="",
        )
        s.add(internal)
        await s.flush()
        s.add_all([AgreementParty(agreement_id=internal.id, institution_id=i, position=n) for n, i in enumerate((nlv, nlc))])
        others = ref["NLV-BNF-2019"]
        await s.execute(update(Agreement).where(col(Agreement.id) == others).values(title=f"Heritage memorandum {MARK}"))
        secret_commitment = Commitment(agreement_id=others, text=f"Lend manuscripts {MARK}", position=9)
        s.add(secret_commitment)
        expert = Person(name="Jeanne Dupont", institution_id=bnf, search_text="")
        s.add(expert)
        await s.flush()
        bnf_visit = Visit(
            title=f"BnF curators in Hanoi {MARK}",
            direction="incoming",
            host_institution_id=nlv,
            visiting_institution_id=bnf,
            starts_on=date(2025, 6, 2),
            ends_on=date(2025, 6, 4),
            status="completed",
            search_text="",
        )
        bnf_programme = Programme(
            name=f"NLV–BnF residencies {MARK}", agreement_id=others, starts_on=date(2026, 1, 1), ends_on=date(2028, 12, 31), search_text=""
        )
        s.add_all([bnf_visit, bnf_programme])
        await s.flush()
        s.add_all([ProgrammeInstitution(programme_id=bnf_programme.id, institution_id=i) for i in (nlv, bnf)])

        # The NLC's records, each pointing at something hidden.
        nlc_programme = await s.scalar(select(col(Programme.id)).where(col(Programme.agreement_id) == shared))
        s.add(ProgrammeInstitution(programme_id=nlc_programme, institution_id=bnf))
        bnf_exchange = ExpertExchange(
            expert_person_id=expert.id,
            home_institution_id=bnf,
            host_institution_id=nlv,
            starts_on=date(2026, 5, 4),
            ends_on=date(2026, 5, 8),
            field_of_work=f"Palm-leaf conservation {MARK}",
            status="approved",
            programme_id=nlc_programme,
            search_text="",
        )
        s.add(bnf_exchange)
        await s.execute(
            update(Programme).where(col(Programme.id) == nlc_programme).values(agreement_id=internal.id, commitment_id=secret_commitment.id)
        )
        seed_visit = await s.scalar(select(col(Visit.id)).where(col(Visit.visiting_institution_id) == nlc))
        served = await s.scalar(select(col(Visit.commitment_ids)).where(col(Visit.id) == seed_visit))
        served = [*served, str(secret_commitment.id)]
        await s.execute(update(Visit).where(col(Visit.id) == seed_visit).values(agreement_id=others, commitment_ids=served))
        project = await s.scalar(select(col(DigitizationProject.id)).where(col(DigitizationProject.lead_institution_id) == nlc))
        s.add_all([ProjectAgreement(project_id=project, agreement_id=a) for a in (internal.id, others, ref["NLV-NLL-2024"])])
        nlc_exchange = await s.scalar(
            select(col(ExpertExchange.id)).where(col(ExpertExchange.home_institution_id) == nlc, col(ExpertExchange.status) == "completed")
        )
        await s.execute(
            update(ExpertExchange)
            .where(col(ExpertExchange.id) == nlc_exchange)
            .values(agreement_id=internal.id, programme_id=bnf_programme.id)
        )
        shared_commitments = list(await s.scalars(select(col(Commitment.id)).where(col(Commitment.agreement_id) == shared)))
        label = f"Curators' visit {MARK}"
        s.add(CommitmentLink(commitment_id=shared_commitments[0], record_type="visit", record_id=bnf_visit.id, label=label))
        measured_by_programme = shared_commitments[-1]
        await s.execute(update(Programme).where(col(Programme.id) == bnf_programme.id).values(commitment_id=measured_by_programme))
        s.add(FollowUp(owner_type="visit", owner_id=bnf_visit.id, text=f"Send the loan list {MARK}", responsible_institution_id=nlc))
        await s.commit()
        hidden.texts = [
            internal.reference,
            internal.title,
            "NLV-BNF-2019",
            "NLV-NLL-2024",
            secret_commitment.text,
            bnf_visit.title,
            bnf_programme.name,
            bnf_exchange.field_of_work,
            f"Curators' visit {MARK}",
            f"Send the loan list {MARK}",
        ]
        hidden.ids = [str(i) for i in (internal.id, others, ref["NLV-NLL-2024"], secret_commitment.id, bnf_visit.id, bnf_programme.id)]
        hidden.ids.append(str(bnf_exchange.id))
    return hidden


GET_SKIP = re.compile(r"^/api/v1/(schema|identity-providers|tokens|attachments)")


async def read_everything(client: Client) -> dict[str, str]:
    """Every GET of the API for every record the client sees, and every page it reaches: URL → body."""
    bodies: dict[str, str] = {}

    async def fetch(url: str) -> str:
        response = await client.get(url)
        assert response.status_code < 500, f"{url} → {response.status_code}"
        text = response.text if response.status_code == 200 else ""
        bodies[url] = text
        return text

    ids: dict[str, list[str]] = {}
    for kind, listing in [
        ("agreement", "/api/v1/agreements?per_page=100"),
        ("visit", "/api/v1/visits?per_page=100"),
        ("exchange", "/api/v1/exchanges?per_page=100"),
        ("programme", "/api/v1/programmes?per_page=100"),
        ("project", "/api/v1/projects?per_page=100"),
        ("institution", "/api/v1/institutions?per_page=100"),
        ("person", "/api/v1/people?per_page=100"),
    ]:
        ids[kind] = [item["id"] for item in json.loads(await fetch(listing))["items"]]
    for url in ["/api/v1/follow-ups/mine", "/api/v1/reports", "/api/v1/report-subscriptions"]:
        await fetch(url)
    for kind, plural in [("agreement", "agreements"), ("visit", "visits"), ("exchange", "exchanges"), ("programme", "programmes")]:
        for record_id in ids[kind]:
            await fetch(f"/api/v1/{plural}/{record_id}")
            for owner in ("comments", "follow-ups"):
                await fetch(f"/api/v1/{owner}/{kind}/{record_id}")
    for record_id in ids["agreement"]:
        await fetch(f"/api/v1/agreements/{record_id}/renewal-diff")
        await fetch(f"/api/v1/agreements/{record_id}/history")
    for record_id in ids["visit"]:
        await fetch(f"/api/v1/visits/{record_id}/photos")
        await fetch(f"/api/v1/visits/{record_id}/history")
    for plural, kind in [("projects", "project"), ("institutions", "institution"), ("people", "person")]:
        for record_id in ids[kind]:
            await fetch(f"/api/v1/{plural}/{record_id}")
    # Every page reachable from the home page, each record's page included (no pattern folding here).
    queue, seen = ["/"], {"/"}
    while queue and len(seen) < 400:
        url = queue.pop(0)
        page = await fetch(url)
        if not page.lstrip().startswith("<!"):
            continue
        for href in read_page(page)[1]:
            parts = urlsplit(href)
            if parts.netloc not in ("", "testserver") or not parts.path.startswith("/") or parts.path.startswith(("/static", "/api")):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen and "logout" not in target:
                seen.add(target)
                queue.append(target)
    return bodies


async def reports_for(app: Any, principal: Principal, ids: dict[str, list[str]]) -> dict[str, str]:
    """The HTML every report the reader may ask for prints (PDF layout aside)."""
    out: dict[str, str] = {}
    settings = app.state.settings
    async with app.state.session_factory() as session:
        month = periods.parse("2025-11")
        out["portfolio"] = (await builders.build(session, principal, settings, "portfolio", None, month, "en")).html
        for kind in ("agreement", "visit", "partner"):
            for record_id in ids[kind]:
                built = await builders.build(session, principal, settings, kind, uuid.UUID(record_id), None, "en")
                out[f"{kind} {record_id}"] = built.html
    return out


@pytest.fixture
async def hidden_world(app) -> tuple[Any, Hidden]:
    await demo.load(app.state.session_factory, demo_loaders())
    return app, await hide_references(app.state.session_factory)


async def _signed_in(app: Any, role: str, address: str) -> tuple[Client, Any]:
    raw = http_client(app, client_address=address)
    client = Client(raw)
    await client.sign_in(f"{role}@{demo.DEMO_DOMAIN}", demo.DEMO_PASSWORD)
    return client, raw


async def test_a_partner_reads_no_reference_to_what_it_may_not_see(hidden_world):
    app, hidden = hidden_world
    partner, raw_partner = await _signed_in(app, "partner.nlc", "192.0.2.31")
    coordinator, raw_coordinator = await _signed_in(app, "coordinator", "192.0.2.32")
    try:
        read = await read_everything(partner)
        assert len(read) > 60, sorted(read)
        assert any(u.startswith("/visits/") for u in read) and any(u.startswith("/projects/") for u in read)
        leaks = [f"{url}: {found}" for url, body in read.items() if (found := hidden.found_in(body))]
        assert not leaks, "\n".join(leaks)

        partner_principal = await principal_for(app, "partner.nlc")
        ids = {
            "agreement": [a["id"] for a in json.loads(read["/api/v1/agreements?per_page=100"])["items"]],
            "visit": [v["id"] for v in json.loads(read["/api/v1/visits?per_page=100"])["items"]],
            "partner": [i["id"] for i in json.loads(read["/api/v1/institutions?per_page=100"])["items"]],
        }
        printed = await reports_for(app, partner_principal, ids)
        leaks = [f"report {name}: {found}" for name, html in printed.items() if (found := hidden.found_in(html))]
        assert not leaks, "\n".join(leaks)

        # The same reading by the coordinator finds every hidden reference: the planted links are real.
        staff = await read_everything(coordinator)
        everything = "\n".join(staff.values())
        missing = [s for s in [*hidden.texts, *hidden.ids] if s not in everything]
        assert not missing, missing
    finally:
        await raw_partner.aclose()
        await raw_coordinator.aclose()


async def principal_for(app: Any, role: str) -> Principal:
    from cooperation.auth.models import User
    from cooperation.auth.services import principal_of

    async with app.state.session_factory() as session:
        user = (await session.execute(select(User).where(col(User.email) == f"{role}@{demo.DEMO_DOMAIN}"))).scalar_one()
        return principal_of(user)


# ---- the output schemas: every field that names another record is one the reading above covers ----------------

# Field name → where the reading above plants a hidden record behind it.
REFERENCE_FIELDS = {
    "agreement": "visit → NLV-BNF-2019",
    "agreement_id": "programme, exchange → internal agreement",
    "agreement_reference": "programme (detail and list) → internal agreement",
    "agreements": "project → internal, NLV–BnF and NLL agreements",
    "commitment_id": "programme → the NLV–BnF commitment",
    "commitment_ids": "visit → the NLV–BnF commitment",
    "links": "commitment → the NLV–BnF visit",
    "measured_by": "commitment → the NLV–BnF programme",
    "measured_url": "commitment → the NLV–BnF programme",
    "programme_id": "exchange → the NLV–BnF programme",
    "programme_name": "exchange → the NLV–BnF programme",
    "exchanges": "programme → the BnF expert's exchange",
    "predecessor": "agreement renewal chain (agreement visibility)",
    "successors": "agreement renewal chain (agreement visibility)",
    "owner_id": "follow-up, comment, attachment → their record (resolved first)",
    "owner_type": "follow-up, comment, attachment → their record (resolved first)",
    "record_id": "commitment link → the NLV–BnF visit",
    "record_type": "commitment link → the NLV–BnF visit",
    "scope_id": "report runs and subscriptions: the reader's own, scoped to what they saw",
    "project_id": "progress rows of a project the reader sees",
    "visit_id": "photos of a visit the reader sees",
    "successor": "renewal diff: both agreements of the chain, each through agreement visibility",
    "commitments": "an agreement's own commitments",
    "project": "the project a progress import was made to (the reader's own)",
    # Input fields (checked by the services) and fields that name no record:
    "agreement_ids": "input: a project's agreements, each checked to exist",
    "commitment_unit": "a unit of measure",
    "measured_state": "met, on track or behind",
    "exchange_count": "the programme's own figure (its quota use)",
    "owner_name": "the subscription's owner, a user",
    "scope": "an API token's scope",
    "scopes": "an identity provider's OpenID scopes",
    "scope_tags": "an agreement's subject tags",
}
NAMES_A_RECORD = re.compile(
    r"^(agreement|commitment|programme|project|visit|exchange|owner|record|scope|predecessor|successor|measured)(s|_.*)?$|^links$"
)


def test_every_output_field_that_names_another_record_is_walked(app):
    schema = app.openapi_schema.to_schema()
    fields = set()
    for component in schema.get("components", {}).get("schemas", {}).values():
        fields |= {name for name in component.get("properties", {}) if NAMES_A_RECORD.match(name)}
    unknown = sorted(fields - set(REFERENCE_FIELDS))
    assert not unknown, f"fields naming another record that the reading above does not plant: {unknown}"
    assert {"agreement_reference", "commitment_ids", "programme_name", "links", "measured_by"} <= fields
