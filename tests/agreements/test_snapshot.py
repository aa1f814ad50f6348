"""An agreement's canonical snapshot and hash: RFC 8785 bytes, the same whatever the order things were
entered in; any change to the conditions changes the hash, a status or a comment does not; shown on the page."""

import hashlib
import re

import rfc8785

from agreements import approval_services
from tests.agreements.helpers import agreement_payload


async def test_the_hash_follows_the_conditions_and_nothing_else(client_for, world):
    coordinator = await client_for("coordinator")
    payload = agreement_payload([world.home, world.nlc], reference="NLV-NLC-SNAP", title="Thỏa thuận hợp tác · 合作协议")
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=payload)).json()
    answer = (await coordinator.api("GET", f"/api/v1/agreements/{agreement['id']}/snapshot")).json()
    snapshot, first = answer["snapshot"], answer["sha256"]
    assert snapshot["format"] == approval_services.FORMAT and snapshot["title"] == "Thỏa thuận hợp tác · 合作协议"
    assert first == hashlib.sha256(rfc8785.dumps(snapshot)).hexdigest()  # anyone can check it from the JSON
    assert [p["name"] for p in snapshot["parties"]] == ["National Library of China", "National Library of Vietnam"]  # CN, VN
    page = (await coordinator.get(f"/agreements/{agreement['id']}")).text
    assert re.search(r'id="snapshot-hash" title="SHA-256 ' + first + '">' + approval_services.short(first) + "<", page)
    # A comment changes nothing of the conditions…
    said = await coordinator.api("POST", f"/api/v1/comments/agreement/{agreement['id']}", json={"body": "Đã gửi bản dịch"})
    assert said.status_code == 201
    same = (await coordinator.api("GET", f"/api/v1/agreements/{agreement['id']}/snapshot")).json()["sha256"]
    assert same == first
    # …a commitment does.
    made = await coordinator.api(
        "POST",
        f"/api/v1/agreements/{agreement['id']}/commitments",
        json={"text": "Exchange 200 publications a year", "responsible_institution_id": str(world.nlc)},
    )
    assert made.status_code == 201
    after = (await coordinator.api("GET", f"/api/v1/agreements/{agreement['id']}/snapshot")).json()
    assert after["sha256"] != first and after["snapshot"]["commitments"][0]["responsible"] == "National Library of China"
    # A partner of the agreement reads the same snapshot; another partner does not find it.
    assert (await (await client_for("partner_a")).api("GET", f"/api/v1/agreements/{agreement['id']}/snapshot")).json()["sha256"] == after[
        "sha256"
    ]
    assert (await (await client_for("partner_b")).api("GET", f"/api/v1/agreements/{agreement['id']}/snapshot")).status_code == 404


def test_the_canonical_form_does_not_depend_on_key_order():
    one = {"b": [1, 2], "a": "Thư viện", "c": {"y": None, "x": 1.5}}
    two = {"c": {"x": 1.5, "y": None}, "a": "Thư viện", "b": [1, 2]}
    assert approval_services.digest(one) == approval_services.digest(two)
    assert rfc8785.dumps(one) == '{"a":"Thư viện","b":[1,2],"c":{"x":1.5,"y":null}}'.encode()
    assert approval_services.short("3fa9c107b2de9c44" + "0" * 48) == "3fa9 c107 b2de 9c44"
