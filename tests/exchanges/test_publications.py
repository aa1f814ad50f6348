"""The exchange-of-publications ledger: arrangements under the right agreement, shipments counted by item,
shipment lists imported from CSV all or nothing and exported back, the balance with its five years and its flags,
receipts acknowledged by the partner, commitments measured, dormancy, the yearly report; who sees what."""

import csv
import io
import re
import uuid
from datetime import date, timedelta

from sqlalchemy import func, select, update

from agreements.models import Agreement, Commitment
from cooperation.partners.dormancy import dormant_partners
from cooperation.reports import builders, periods
from exchanges import publication_services as services
from exchanges.models import ShipmentItem
from tests.agreements.helpers import agreement_payload
from tests.conftest import QueryCounter

TODAY = date.today()
# Well-formed ISBNs and an ISSN (their check digits are right).
ISSN = "0866-7292"
ISBN_A = "978-7-5013-7809-8"
ISBN_B = "9787501369232"


def located(response) -> str:
    assert response.status_code == 303, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))[:800]
    return response.headers["location"].rsplit("/", 1)[-1]


async def exchange_agreement(coordinator, world, partner, reference="NLV-NLC-PUB", **overrides) -> str:
    payload = agreement_payload([world.home, partner], reference=reference, kind="exchange_of_publications", **overrides)
    created = await coordinator.api("POST", "/api/v1/agreements", json=payload)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def arrangement_with(coordinator, world, partner, **fields) -> str:
    agreement = await exchange_agreement(coordinator, world, partner, reference=fields.pop("reference", "NLV-NLC-PUB"))
    form = {
        "partner_institution_id": str(partner),
        "agreement_id": agreement,
        "basis": "blanket",
        "formats": ["print", "digital"],
        **fields,
    }
    return located(await coordinator.form("/publications/arrangements", form))


async def shipment(coordinator, arrangement, direction, shipped_on, items) -> str:
    form = {"direction": direction, "shipped_on": shipped_on.isoformat(), "arrangement_id": arrangement}
    for i, (title, identifier, category, copies) in enumerate(items):
        form |= {
            f"item-{i}-title": title,
            f"item-{i}-identifier": identifier,
            f"item-{i}-category": category,
            f"item-{i}-copies": str(copies),
        }
    return located(await coordinator.form("/publications/shipments", form))


async def test_an_arrangement_rests_on_an_exchange_agreement_with_that_partner(client_for, world):
    coordinator = await client_for("coordinator")
    cooperation = (
        await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc], reference="COOP"))
    ).json()
    wrong_kind = await coordinator.form(
        "/publications/arrangements", {"partner_institution_id": str(world.nlc), "agreement_id": cooperation["id"], "basis": "blanket"}
    )
    assert wrong_kind.status_code == 422 and "choose an agreement of the kind “exchange of publications”" in wrong_kind.text
    exchange = await exchange_agreement(coordinator, world, world.nlc)
    not_party = await coordinator.form(
        "/publications/arrangements", {"partner_institution_id": str(world.bnf), "agreement_id": exchange, "basis": "selective"}
    )
    assert not_party.status_code == 422 and "is not a party to NLV-NLC-PUB" in not_party.text
    arrangement = located(
        await coordinator.form(
            "/publications/arrangements",
            {
                "partner_institution_id": str(world.nlc),
                "agreement_id": exchange,
                "basis": "selective",
                "formats": ["print", "microform"],
                "series": "Quốc gia thư mục",
            },
        )
    )
    page = (await coordinator.get(f"/publications/arrangements/{arrangement}")).text
    assert "Selective" in page and "Print, Microform" in page and "Quốc gia thư mục" in page
    # Suspended at the partner's request: the page says so; a reason for whom is required.
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    refused = await coordinator.form(f"/publications/arrangements/{arrangement}/status", {"status": "suspended", "version": version})
    assert "say at whose request" in refused.text
    done = await coordinator.form(
        f"/publications/arrangements/{arrangement}/status",
        {"status": "suspended", "requested_by": "partner_request", "on": "2026-05-01", "note": "Budget freeze", "version": version},
    )
    assert done.status_code == 303
    page = (await coordinator.get(f"/publications/arrangements/{arrangement}")).text
    assert "Suspended since 1 May 2026 (at the partner&#39;s request)." in page and "Budget freeze" in page


async def test_shipments_count_items_by_copies_and_identifiers_are_checked(client_for, world):
    coordinator = await client_for("coordinator")
    arrangement = await arrangement_with(coordinator, world, world.nlc)
    bad = await coordinator.form(
        "/publications/shipments",
        {
            "direction": "sent",
            "shipped_on": "2026-03-02",
            "arrangement_id": arrangement,
            "item-0-title": "Thư mục quốc gia",
            "item-0-identifier": "978-7-5013-7809-9",
            "item-1-title": "Bản đồ Hà Nội",
            "item-1-copies": "0",
            "item-2-title": "Tạp chí",
            "item-2-value": "12",
        },
    )
    assert bad.status_code == 422
    text = bad.text
    assert "is not a valid ISBN or ISSN (check digit included)" in text and "give both the amount and its ISO 4217 currency" in text
    assert "must be a whole number from 1 to 100,000" in text
    assert "Thư mục quốc gia" in text and "Bản đồ Hà Nội" in text  # the rows come back as typed
    sent = await shipment(
        coordinator,
        arrangement,
        "sent",
        date(2026, 3, 2),
        [("Thư mục quốc gia 2025", ISSN, "official", 40), ("古籍", ISBN_B, "monograph", 3)],
    )
    page = (await coordinator.get(f"/publications/shipments/{sent}")).text
    assert "43 items, 2 titles" in page and "978-7-5013-6923-2" in page and "0866-7292" in page  # hyphenated as printed


async def test_a_shipment_list_from_csv_is_all_or_nothing_and_comes_back_out(db, client_for, world):
    coordinator = await client_for("coordinator")
    arrangement = await arrangement_with(coordinator, world, world.nlc)
    received = await shipment(coordinator, arrangement, "received", date(2026, 4, 10), [("中国国家图书馆馆刊", ISSN, "serial", 2)])
    wrong = (
        "title;identifier;category;copies;value;currency\n"
        f"永乐大典;{ISBN_A};monograph;5;180;CNY\n"
        "Bad check digit;978-7-5013-7809-9;monograph;1;;\n"
        "Unknown category;;poster;1;;\n"
        "No copies;;serial;-2;;\n"
        "=cmd|' /C calc'!A0;;;1;;\n"
    ).encode()
    answer = await coordinator.raw.post(
        f"/publications/shipments/{received}/items",
        files={"file": ("list.csv", wrong, "text/csv")},
        data={"_csrf_token": await coordinator.csrf()},
    )
    assert answer.status_code == 422
    for line, problem in [
        (3, "is not a valid ISBN or ISSN"),
        (4, "category: &#39;poster&#39; is not one of"),
        (5, "copies: &#39;-2&#39; is not a whole number"),
    ]:
        assert re.search(rf"line {line}</?[^>]*>?[^<]*{problem}|line {line}: [^<]*{problem}", answer.text), (line, problem)
    stored = await db.scalar(select(func.count()).select_from(ShipmentItem).where(ShipmentItem.shipment_id == uuid.UUID(received)))
    assert stored == 1  # nothing written
    good = (
        "\ufefftitle,identifier,category,copies,value,currency\n永乐大典,9787501378098,monograph,5,180,cny\n=cmd|' /C calc'!A0,,other,1,,\n"
    )
    answer = await coordinator.raw.post(
        f"/publications/shipments/{received}/items",
        files={"file": ("list.csv", good.encode(), "text/csv")},
        data={"_csrf_token": await coordinator.csrf()},
    )
    assert answer.status_code == 303, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", answer.text))[:1500]
    page = (await coordinator.get(f"/publications/shipments/{received}")).text
    assert "8 items, 3 titles" in page and "CN¥180.00" in page
    export = await coordinator.get(f"/publications/shipments/{received}/items.csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0] == list(services.CSV_COLUMNS)
    assert rows[2] == ["永乐大典", ISBN_A, "monograph", "5", "180.00", "CNY"]
    assert rows[3][0] == "'=cmd|' /C calc'!A0"  # a spreadsheet shows it, never runs it
    # The exported list goes back in, replacing the list: same items (the formula cell keeps its apostrophe as text).
    back = await coordinator.raw.post(
        f"/publications/shipments/{received}/items",
        files={"file": ("list.csv", export.content, "text/csv")},
        data={"_csrf_token": await coordinator.csrf(), "replace": "1"},
    )
    assert back.status_code == 303
    assert "8 items, 3 titles" in (await coordinator.get(f"/publications/shipments/{received}")).text


async def test_the_balance_its_five_years_and_its_flags(app, db, client_for, world):
    coordinator = await client_for("coordinator")
    nlc = await arrangement_with(coordinator, world, world.nlc)
    bnf = await arrangement_with(coordinator, world, world.bnf, reference="NLV-BNF-PUB")
    year = TODAY.year
    await shipment(coordinator, nlc, "sent", date(year, 1, 15), [("A", "", "monograph", 30)])
    await shipment(coordinator, nlc, "received", date(year, 1, 20), [("B", "", "monograph", 10)])
    await shipment(coordinator, nlc, "received", date(year - 2, 6, 1), [("C", "", "serial", 12)])
    await shipment(coordinator, bnf, "sent", date(year - 1, 3, 1), [("D", "", "official", 5)])
    await shipment(coordinator, bnf, "received", TODAY - timedelta(days=400), [("E", "", "map", 4)])
    lost = await shipment(coordinator, bnf, "sent", date(year, 2, 1), [("F", "", "monograph", 100)])
    page = (await coordinator.get(f"/publications/shipments/{lost}")).text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    assert (await coordinator.form(f"/publications/shipments/{lost}/status", {"status": "missing", "version": version})).status_code == 303

    with QueryCounter(app) as counter:
        balances = await services.balance(db, world.principals["director"], year)
    assert counter.count == 3
    by_code = {b.partner_code: b for b in balances}
    nlc_balance, bnf_balance = by_code["NLC"], by_code["BNF"]
    assert (nlc_balance.sent, nlc_balance.received) == (30, 10)
    assert [(y.year, y.sent, y.received) for y in nlc_balance.trend][-3:] == [(year - 2, 0, 12), (year - 1, 0, 0), (year, 30, 10)]
    assert nlc_balance.far_off and not nlc_balance.silent  # 30 against 10: more than twice, over 20 items
    assert (bnf_balance.sent, bnf_balance.received) == (0, 0)  # the missing parcel does not count
    assert bnf_balance.silent and not bnf_balance.far_off  # nothing received from the BnF for more than a year
    page = (await coordinator.get(f"/publications?year={year}")).text
    assert "far off balance" in page and "nothing received for a year" in page
    # A partner sees its own exchange only.
    partner = await client_for("partner_a")
    own = (await partner.get(f"/publications?year={year}")).text
    assert ">NLC</a>" in own and ">BNF</a>" not in own
    assert (await partner.get(f"/publications/arrangements/{bnf}")).status_code == 404
    assert (await partner.get(f"/publications/shipments/{lost}")).status_code == 404
    export = (await partner.get(f"/publications/export.csv?year={year}")).content.decode("utf-8-sig")
    assert ",BNF," not in export and ",NLC," in export


async def test_the_partner_acknowledges_what_was_sent_to_it(client_for, world):
    coordinator = await client_for("coordinator")
    arrangement = await arrangement_with(coordinator, world, world.nlc)
    sent = await shipment(coordinator, arrangement, "sent", TODAY - timedelta(days=10), [("Thư mục", ISSN, "official", 3)])
    received = await shipment(coordinator, arrangement, "received", TODAY - timedelta(days=5), [("书目", ISBN_A, "monograph", 2)])
    partner = await client_for("partner_a")
    page = (await partner.get(f"/publications/shipments/{sent}")).text
    assert "Acknowledged" in page and "Import" not in page and "/edit" not in page
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    refused = await partner.form(f"/publications/shipments/{sent}/status", {"status": "received", "version": version})
    assert refused.status_code == 403
    done = await partner.form(
        f"/publications/shipments/{sent}/status", {"status": "acknowledged", "version": version, "on": TODAY.isoformat()}
    )
    assert done.status_code == 303
    assert "Acknowledged" in (await coordinator.get(f"/publications/shipments/{sent}")).text
    # What NLC sent us is ours to acknowledge, not theirs; and an acknowledged shipment is settled.
    page = (await partner.get(f"/publications/shipments/{received}")).text
    assert "Change status to" not in page
    answer = await partner.form(f"/publications/shipments/{received}/status", {"status": "acknowledged", "version": "1"})
    assert answer.status_code == 403
    assert (await (await client_for("partner_b")).get(f"/publications/shipments/{sent}")).status_code == 404


async def test_a_commitment_is_measured_by_the_ledger_and_shipments_keep_a_partnership_awake(db, client_for, world):
    coordinator = await client_for("coordinator")
    agreement = await exchange_agreement(coordinator, world, world.nlc, reference="NLV-NLC-EX", effective_on="2020-01-01")
    await db.execute(update(Agreement).where(Agreement.id == uuid.UUID(agreement)).values(status="in_force", signed_on=date(2019, 12, 1)))
    await db.commit()
    assert [d.code for d in await dormant_partners(db, world.principals["director"], TODAY, 12)] == ["NLC"]  # signed long ago
    made = await coordinator.api(
        "POST",
        f"/api/v1/agreements/{agreement}/commitments",
        json={
            "text": "Send 50 publications a year",
            "responsible_institution_id": str(world.home),
            "yearly_target": 50,
            "unit": "publications",
        },
    )
    assert made.status_code == 201, made.text
    commitment = made.json()["id"]
    arrangement = located(
        await coordinator.form(
            "/publications/arrangements",
            {"partner_institution_id": str(world.nlc), "agreement_id": agreement, "basis": "blanket", "commitment_id": commitment},
        )
    )
    await shipment(coordinator, arrangement, "sent", TODAY - timedelta(days=3), [("Thư mục quốc gia", ISSN, "official", 20)])
    await shipment(coordinator, arrangement, "received", TODAY - timedelta(days=3), [("书目", ISBN_A, "official", 70)])  # not ours to count
    measured = (await coordinator.api("GET", f"/api/v1/agreements/{agreement}")).json()
    (item,) = [c for c in measured["commitments"] if c["id"] == commitment]
    assert "20 of" in item["measured_by"] and "publications exchanged over the term, by the ledger" in item["measured_by"]
    assert item["measured_url"] == f"/publications/arrangements/{arrangement}"
    stored = await db.scalar(select(Commitment.yearly_target).where(Commitment.id == uuid.UUID(commitment)))
    assert stored == 50
    # The agreement was signed long ago and nothing but shipments happened since: the partnership is not dormant.
    assert [d.code for d in await dormant_partners(db, world.principals["director"], TODAY, 12)] == []


async def test_the_yearly_exchange_report_in_vietnamese(db, app, client_for, world):
    coordinator = await client_for("coordinator")
    arrangement = await arrangement_with(coordinator, world, world.nlc)
    await shipment(
        coordinator, arrangement, "sent", date(2025, 3, 2), [("Thư mục quốc gia", ISSN, "official", 40), ("Bản đồ", "", "map", 2)]
    )
    await shipment(coordinator, arrangement, "received", date(2025, 9, 1), [("书目", ISBN_A, "monograph", 25)])
    other = await arrangement_with(coordinator, world, world.bnf, reference="NLV-BNF-PUB")
    await shipment(coordinator, other, "received", date(2025, 10, 1), [("Bibliographie nationale", "", "official", 7)])
    built = await builders.build(db, world.principals["director"], app.state.settings, "publications", None, periods.parse("2025"), "vi")
    assert built.title.startswith("Trao đổi xuất bản phẩm") and built.title.endswith("2025")
    html = built.html
    assert "NLC — National Library of China" in html and "BNF — National Library of France" in html
    assert "ấn phẩm chính thức" in html and "bản đồ" in html
    partner = builders.build(db, world.principals["partner_a"], app.state.settings, "publications", None, periods.parse("2025"), "en")
    theirs = (await partner).html
    assert "NLC — National Library of China" in theirs and "BNF" not in theirs
    run = await coordinator.form("/reports", {"kind": "publications", "period": "2025", "language": "fr"})
    assert run.status_code == 303
    table = (await coordinator.get("/publications/report.csv?year=2025")).content.decode("utf-8-sig").splitlines()
    assert table[0] == "year,partner,partner_name,direction,category,items"
    assert (
        "2025,NLC,National Library of China,sent,official,40" in table
        and "2025,BNF,National Library of France,received,official,7" in table
    )
    theirs = (await (await client_for("partner_a")).get("/publications/report.csv?year=2025")).text
    assert "NLC" in theirs and "BNF" not in theirs
