"""Any Unicode text in any text field: it is stored and read back exactly — after NFC and without
surrounding white space — or refused with a 4xx naming the field; never a 5xx. Names keep their own script."""

import unicodedata
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.agreements.helpers import agreement_payload

EXAMPLES = 40
# Every code point but surrogates (not text in UTF-8 or JSON); control characters are in, to be refused.
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=120)
PROPERTY = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def expected(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def check(answer: Any, field: str, sent: str, read: Any) -> None:
    assert answer.status_code < 500, (field, sent, answer.status_code, answer.text[:300])
    if answer.status_code >= 400:
        problem = answer.json()
        assert field in (problem.get("errors") or {}) or field in problem.get("detail", ""), (field, sent, problem)
        return
    assert read(answer) == expected(sent), (field, sent)


@PROPERTY
@given(name=TEXT, native=TEXT, position=TEXT)
async def test_institution_and_person_names(client_for, world, name: str, native: str, position: str):
    coordinator = await client_for("coordinator")
    code = f"T{uuid.uuid4().hex[:8]}"
    made = await coordinator.api("POST", "/api/v1/institutions", json={"code": code, "name": name, "name_native": native, "country": "VN"})
    assert made.status_code < 500, (name, native, made.text[:300])
    if made.status_code == 201:
        stored = (await coordinator.api("GET", f"/api/v1/institutions/{made.json()['id']}")).json()
        assert stored["name"] == expected(name) and stored["name_native"] == (expected(native) or None), (name, native)
    else:
        assert set(made.json().get("errors", {})) & {"name", "name_native"}, made.text
    person = await coordinator.api("POST", "/api/v1/people", json={"name": name, "institution_id": str(world.nlc), "position": position})
    assert person.status_code < 500, (name, position, person.text[:300])
    if person.status_code == 201:
        read = (await coordinator.api("GET", f"/api/v1/people/{person.json()['id']}")).json()
        assert read["name"] == expected(name) and read["position"] == (expected(position) or None), (name, position)
    else:
        assert set(person.json().get("errors", {})) & {"name", "position"}, person.text


@PROPERTY
@given(title=TEXT, comment=TEXT)
async def test_agreement_title_comment_and_search(client_for, world, title: str, comment: str):
    coordinator = await client_for("coordinator")
    payload = agreement_payload([world.home, world.nlc], reference=f"RT-{uuid.uuid4().hex[:8]}", title=title)
    made = await coordinator.api("POST", "/api/v1/agreements", json=payload)
    check(made, "title", title, lambda a: a.json()["title"])
    if made.status_code == 201:
        said = await coordinator.api("POST", f"/api/v1/comments/agreement/{made.json()['id']}", json={"body": comment})
        check(said, "body", comment, lambda a: a.json()["body"])
    found = await coordinator.api("GET", "/api/v1/agreements", params={"q": title})
    assert found.status_code in (200, 400, 422), (title, found.status_code, found.text[:200])
