"""Lists: derived views, filters, search, sorting, paging, and a constant number of queries per page."""

from datetime import date, timedelta

from sqlalchemy import update

from agreements import services
from agreements.models import Agreement
from agreements.schemas import AgreementIn, PartyIn
from tests.conftest import QueryCounter, add_institution


async def make(
    db,
    world,
    reference,
    partner,
    *,
    status="in_force",
    expires=None,
    title="Agreement",
    summary="",
    confidentiality="parties",
    predecessor=None,
):
    data = AgreementIn(
        reference=reference,
        title=title,
        kind="cooperation_agreement",
        summary=summary,
        confidentiality=confidentiality,
        parties=[PartyIn(institution_id=world.home), PartyIn(institution_id=partner)],
        effective_on=date(2020, 1, 1),
        expires_on=expires,
    )
    agreement_id = await services.create_agreement(db, world.principals["coordinator"], data, predecessor_id=predecessor)
    await db.execute(update(Agreement).where(Agreement.id == agreement_id).values(status=status))
    await db.commit()
    return agreement_id


async def refs(client, query):
    response = await client.api("GET", f"/api/v1/agreements?{query}")
    assert response.status_code == 200, response.text
    return sorted(item["reference"] for item in response.json()["items"])


async def test_derived_views(client_for, world, db):
    today = date.today()
    await make(db, world, "SOON", world.nlc, expires=today + timedelta(days=20))
    await make(db, world, "LATER", world.bnf, expires=today + timedelta(days=400))
    await make(db, world, "OPEN", world.ndl, expires=None)
    lapsed = await make(db, world, "LAPSED", world.bnf, status="expired", expires=today - timedelta(days=10))
    renewed = await make(db, world, "RENEWED", world.nlc, status="expired", expires=today - timedelta(days=10))
    await make(db, world, "RENEWED-R1", world.nlc, status="in_force", predecessor=renewed, expires=today + timedelta(days=1000))
    await make(db, world, "OVERDUE", world.ndl, status="in_force", expires=today - timedelta(days=2))
    await make(db, world, "DRAFTY", world.nlc, status="draft", expires=today + timedelta(days=20))
    client = await client_for("director")  # its first request settles the day: OVERDUE's expiry has passed
    assert await refs(client, "view=in_force") == ["LATER", "OPEN", "RENEWED-R1", "SOON"]
    assert await refs(client, "status=expired") == ["LAPSED", "OVERDUE", "RENEWED"]
    assert await refs(client, "view=expiring&days=30") == ["SOON"]
    assert await refs(client, "view=expiring&days=500") == ["LATER", "SOON"]
    assert await refs(client, "view=expired_not_renewed") == ["LAPSED", "OVERDUE"]
    assert await refs(client, f"partner_id={world.bnf}") == ["LAPSED", "LATER"]
    assert await refs(client, "country=jp") == ["OPEN", "OVERDUE"]
    assert lapsed


async def test_search_ignores_case_and_diacritics(client_for, world, db):
    await make(db, world, "VN-1", world.nlc, title="Hợp tác số hóa sách cổ", summary="Thư viện Quốc gia")
    await make(db, world, "CN-1", world.nlc, title="古籍数字化合作")
    await make(db, world, "FR-1", world.bnf, title="Échange de publications")
    client = await client_for("coordinator")
    assert await refs(client, "q=thu%20vien") == ["VN-1"]
    assert await refs(client, "q=SO%20HOA") == ["VN-1"]
    assert await refs(client, "q=古籍") == ["CN-1"]
    assert await refs(client, "q=echange") == ["FR-1"]
    assert await refs(client, "q=100%25") == []  # LIKE wildcards are escaped


async def test_sorting_paging_and_bad_parameters(client_for, world, db):
    for n in range(7):
        await make(db, world, f"R-{n}", world.nlc, expires=date(2030, 1, 1) + timedelta(days=n))
    client = await client_for("coordinator")
    first = (await client.api("GET", "/api/v1/agreements?sort=-expires_on&per_page=3")).json()
    assert [i["reference"] for i in first["items"]] == ["R-6", "R-5", "R-4"]
    assert first["total"] == 7
    third = (await client.api("GET", "/api/v1/agreements?sort=-expires_on&per_page=3&page=3")).json()
    assert [i["reference"] for i in third["items"]] == ["R-0"]
    bad_sort = await client.api("GET", "/api/v1/agreements?sort=password")
    assert bad_sort.status_code == 422
    assert "unknown sort key" in bad_sort.json()["errors"]["sort"]
    too_many = await client.api("GET", "/api/v1/agreements?per_page=500")
    assert too_many.status_code == 400
    assert "per_page" in too_many.json()["errors"]
    page = await client.get("/agreements?per_page=500")
    assert page.status_code == 422 and "per_page" in page.text


async def test_list_costs_a_constant_number_of_queries(app, client_for, world, db):
    client = await client_for("coordinator")
    for n in range(3):
        await make(db, world, f"A-{n}", world.nlc)
    with QueryCounter(app) as few:
        assert (await client.api("GET", "/api/v1/agreements?per_page=50")).status_code == 200
    with QueryCounter(app) as few_page:
        assert (await client.get("/agreements?per_page=50")).status_code == 200
    partners = [await add_institution(db, f"P{n}", f"Partner {n}", "DE") for n in range(10)]
    for n in range(57):
        await make(db, world, f"B-{n}", partners[n % 10])
    with QueryCounter(app) as many:
        body = (await client.api("GET", "/api/v1/agreements?per_page=50")).json()
    assert len(body["items"]) == 50
    with QueryCounter(app) as many_page:
        assert (await client.get("/agreements?per_page=50")).status_code == 200
    with QueryCounter(app) as small_page:
        assert len((await client.api("GET", "/api/v1/agreements?per_page=5")).json()["items"]) == 5
    assert small_page.count == many.count
    assert few.count == many.count <= 5, (few.count, many.count)
    assert few.count == 2  # session lookup; rows with their parties and the capped count
    assert few_page.count == many_page.count
    for name, path in [("institutions", "/api/v1/institutions?per_page=50"), ("people", "/api/v1/people?per_page=50")]:
        with QueryCounter(app) as counter:
            assert (await client.api("GET", path)).status_code == 200, name
        assert counter.count <= 4, name


async def test_partner_sees_only_shared_agreements_that_are_not_internal(client_for, world, db):
    shared_a = await make(db, world, "WITH-NLC", world.nlc)
    internal_a = await make(db, world, "NLC-INTERNAL", world.nlc, confidentiality="internal")
    shared_b = await make(db, world, "WITH-BNF", world.bnf)
    partner_a = await client_for("partner_a")
    assert await refs(partner_a, "") == ["WITH-NLC"]
    assert (await partner_a.api("GET", f"/api/v1/agreements/{shared_a}")).status_code == 200
    for hidden in (internal_a, shared_b):
        assert (await partner_a.api("GET", f"/api/v1/agreements/{hidden}")).status_code == 404
        assert (await partner_a.get(f"/agreements/{hidden}")).status_code == 404
    institutions = (await partner_a.api("GET", "/api/v1/institutions")).json()
    assert sorted(i["code"] for i in institutions["items"]) == ["NLC", "NLV"]
    assert (await partner_a.api("GET", f"/api/v1/institutions/{world.bnf}")).status_code == 404
    refused = await partner_a.api(
        "PUT", f"/api/v1/agreements/{shared_a}", json={"reference": "X", "title": "X", "kind": "other", "parties": [], "version": 1}
    )
    assert refused.status_code == 403
    coordinator = await client_for("coordinator")
    assert await refs(coordinator, "") == ["NLC-INTERNAL", "WITH-BNF", "WITH-NLC"]


async def test_pages_past_the_end_and_capped_totals(client_for, world, db, monkeypatch):
    for n in range(7):
        await make(db, world, f"C-{n}", world.nlc)
    client = await client_for("coordinator")
    past = (await client.api("GET", "/api/v1/agreements?per_page=5&page=3")).json()
    assert past["items"] == [] and past["total"] == 7 and past["total_exact"] is True
    monkeypatch.setattr("cooperation.records.COUNT_CAP", 5)
    capped = (await client.api("GET", "/api/v1/agreements?per_page=2")).json()
    assert capped["total"] == 5 and capped["total_exact"] is False
    page = await client.get("/agreements?per_page=2")
    assert "more than 5 found" in page.text and "Next" in page.text


async def test_a_page_number_past_any_list_is_a_4xx_naming_it(client_for, world):
    """OFFSET past int64 answered 500 on PostgreSQL: a page number is bounded on every list, HTML and API."""
    coordinator = await client_for("coordinator")
    huge = str(10**17)
    for path in ("/agreements", "/visits", "/exchanges", "/programmes", "/projects", "/institutions", "/people"):
        page = await coordinator.get(f"{path}?page={huge}")
        assert page.status_code == 422 and "page" in page.text, path
        api = await coordinator.api("GET", f"/api/v1{path}?page={huge}")
        assert api.status_code == 400 and "page" in api.json()["errors"], path
    last = await coordinator.api("GET", "/api/v1/agreements?page=1000000")
    assert last.status_code == 200 and last.json()["items"] == []
