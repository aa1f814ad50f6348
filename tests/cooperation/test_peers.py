"""Two LibCoop instances pair: the National Library of Vietnam's and the National Library of
China's, each on its own port and database, on loopback. A one-time code, a signed pairing request, then signed
requests only between them: a replayed message, an altered one and an unpaired instance's are refused; unpairing on
one side is heard on the other."""

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from cooperation import demo
from cooperation.db import create_engine, session_factory
from cooperation.peers import services
from cooperation.peers.models import Peer
from tests.conftest import Client
from tests.e2e.conftest import library_instance, recipient_of, serving

ADMIN = f"admin@{demo.DEMO_DOMAIN}"


@pytest.fixture(scope="module")
def two_instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict]]:
    """NLV's and NLC's instances (and the BnF's, for what a third instance paired with the same sender must refuse)."""
    data_dir = tmp_path_factory.mktemp("peers")
    nlv_settings, nlv_ids = library_instance(data_dir, "nlv", "NLV")
    nlc_settings, nlc_ids = library_instance(data_dir, "nlc", "NLC")
    bnf_settings, bnf_ids = library_instance(data_dir, "bnf", "BNF")
    with serving(nlv_settings) as nlv_url, serving(nlc_settings) as nlc_url, serving(bnf_settings) as bnf_url:
        yield {
            "nlv": {"url": nlv_url, "ids": nlv_ids, "settings": nlv_settings},
            "nlc": {"url": nlc_url, "ids": nlc_ids, "settings": nlc_settings},
            "bnf": {"url": bnf_url, "ids": bnf_ids, "settings": bnf_settings},
        }


async def _pair(sender: dict, receiver: dict, sender_code: str, receiver_code: str) -> None:
    """The receiver's administrator makes a code for the sender's instance, which pairs with it."""
    receiver_admin, sender_admin = await _admin(receiver["url"]), await _admin(sender["url"])
    made = await receiver_admin.form("/admin/peers/codes", {"institution_id": str(receiver["ids"][sender_code])})
    code = re.search(r'id="pairing-code">([0-9A-F-]+)<', made.text).group(1)
    paired = await sender_admin.form(
        "/admin/peers", {"base_url": receiver["url"], "code": code, "pair_institution_id": str(sender["ids"][receiver_code])}
    )
    assert paired.status_code == 303, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", paired.text))[:800]
    await receiver_admin.raw.aclose()
    await sender_admin.raw.aclose()


async def _admin(url: str) -> Client:
    client = Client(httpx.AsyncClient(base_url=url, timeout=30))
    await client.sign_in(ADMIN, demo.DEMO_PASSWORD)
    return client


async def _signed(side: dict, method: str, path: str, payload: object, *, to: str) -> tuple[str, bytes, dict[str, str]]:
    """A request signed with `side`'s own key, as its instance would send it to `to`."""
    engine = create_engine(side["settings"].database_url)
    async with session_factory(engine)() as session:
        key_id, private, _ = await services.signing_key(session, side["settings"])
    await engine.dispose()
    body = json.dumps(payload).encode()
    url = to + path
    return url, body, services.sign(key_id, private, method, url, body, recipient=await recipient_of(to))


async def test_two_libraries_pair_and_only_they_are_heard(two_instances):
    nlv, nlc = two_instances["nlv"], two_instances["nlc"]
    # Each publishes who it is and its key.
    async with httpx.AsyncClient() as anyone:
        document = (await anyone.get(nlc["url"] + "/.well-known/libcoop")).json()
    assert document["institution"]["code"] == "NLC" and document["keys"][0]["alg"] == "ed25519"
    assert document["base_url"] == nlc["url"]

    # NLC's administrator makes a code for NLV's instance…
    nlc_admin = await _admin(nlc["url"])
    made = await nlc_admin.form("/admin/peers/codes", {"institution_id": str(nlc["ids"]["NLV"])})
    assert made.status_code == 200
    code = re.search(r'id="pairing-code">([0-9A-F-]+)<', made.text).group(1)
    # …NLV's administrator enters it with NLC's address; a wrong code first.
    nlv_admin = await _admin(nlv["url"])
    wrong = await nlv_admin.form(
        "/admin/peers", {"base_url": nlc["url"], "code": "000000-000000-000000", "pair_institution_id": str(nlv["ids"]["NLC"])}
    )
    assert wrong.status_code == 422 and "unknown, used or expired" in wrong.text, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", wrong.text))[
        :1200
    ]
    paired = await nlv_admin.form("/admin/peers", {"base_url": nlc["url"], "code": code, "pair_institution_id": str(nlv["ids"]["NLC"])})
    assert paired.status_code == 303, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", paired.text))[:800]
    assert nlc["url"] in (await nlv_admin.get("/admin/peers")).text
    theirs = (await nlc_admin.get("/admin/peers")).text
    assert nlv["url"] in theirs and "National Library of Vietnam" in theirs
    # Pairing twice with the same instance is a conflict (and the code is spent anyway).
    again = await nlv_admin.form(
        "/admin/peers", {"base_url": nlc["url"] + "/", "code": code, "pair_institution_id": str(nlv["ids"]["NLC"])}
    )
    assert again.status_code == 409

    async with httpx.AsyncClient() as wire:
        # A signed request from NLV is heard by NLC, once.
        url, body, headers = await _signed(nlv, "POST", "/federation/ping", {"hello": "xin chào"}, to=nlc["url"])
        heard = await wire.post(url, content=body, headers=headers)
        assert heard.status_code == 200 and heard.json() == {"pong": True, "you_are": "NLV"}
        replay = await wire.post(url, content=body, headers=headers)
        assert replay.status_code == 401 and "replay" in replay.json()["detail"]
        # Altered in transit: the signature fails.
        url, body, headers = await _signed(nlv, "POST", "/federation/ping", {"amount": 1}, to=nlc["url"])
        altered = await wire.post(url, content=json.dumps({"amount": 1000}).encode(), headers=headers)
        assert altered.status_code == 401 and "does not verify" in altered.json()["detail"]
        # An instance nobody paired with: refused, whatever it signs.
        stranger = Ed25519PrivateKey.generate()
        stranger_id = services.key_id_of(stranger.public_key().public_bytes_raw())
        url = nlc["url"] + "/federation/ping"
        refused = await wire.post(url, content=b"{}", headers=services.sign(stranger_id, stranger, "POST", url, b"{}", recipient="x"))
        assert refused.status_code == 401 and "No instance paired" in refused.json()["detail"]
        unsigned = await wire.post(url, content=b"{}")
        assert unsigned.status_code == 401
        # Malformed pairing requests are refused by field, never a server error.
        pair_url = nlc["url"] + "/federation/pair"
        assert (await wire.post(pair_url, content=b"not json")).status_code == 422
        odd = {"code": "x", "base_url": nlv["url"], "key": {"id": "ed25519-x", "public_key": "%%%not base64%%%"}}
        assert (await wire.post(pair_url, json=odd)).status_code == 401
        odd["base_url"] = "javascript:alert(1)"
        assert (await wire.post(pair_url, json=odd)).status_code == 422

    # NLV unpairs: NLC hears it and trusts NLV's key no more.
    page = (await nlv_admin.get("/admin/peers")).text
    peer_id = re.search(r'action="/admin/peers/([0-9a-f-]{36})/unpair"', page).group(1)
    assert (await nlv_admin.form(f"/admin/peers/{peer_id}/unpair", {})).status_code == 303
    engine = create_engine(nlc["settings"].database_url)
    async with session_factory(engine)() as session:
        archived = (await session.execute(select(Peer.archived_at))).scalars().all()
    await engine.dispose()
    assert archived and all(archived)
    async with httpx.AsyncClient() as wire:
        url, body, headers = await _signed(nlv, "POST", "/federation/ping", {}, to=nlc["url"])
        assert (await wire.post(url, content=body, headers=headers)).status_code == 401
    await nlv_admin.raw.aclose()
    await nlc_admin.raw.aclose()


async def test_pairing_codes_cannot_be_tried_without_limit(app):
    """25 wrong codes were 25 × 401: now ten refused attempts from one address, then 429 with Retry-After."""
    from tests.conftest import http_client

    stranger = Ed25519PrivateKey.generate()
    key = {"id": services.key_id_of(stranger.public_key().public_bytes_raw()), "public_key": "AAAA"}
    async with http_client(app, "198.51.100.7") as raw:
        answers = []
        for n in range(12):
            payload = {"code": f"{n:06d}-000000-000000", "base_url": "https://libcoop.elsewhere.example", "key": key}
            answers.append(await raw.post("/federation/pair", json=payload))
    assert [a.status_code for a in answers[:10]] == [401] * 10
    assert answers[10].status_code == 429 and "retry-after" in answers[10].headers
    async with http_client(app, "198.51.100.8") as raw:  # another address still has its own tries
        other = await raw.post("/federation/pair", json={"code": "1", "base_url": "https://libcoop.elsewhere.example", "key": key})
    assert other.status_code == 401


async def test_a_request_signed_for_one_instance_is_refused_by_another(two_instances):
    """NLV is paired with both NLC and the BnF. A request NLV signed for NLC, replayed at the BnF within the five
    minutes — as sent, or with NLC's address in its Host header — is refused: the signature covers the authority it was
    sent to and the key id of the instance it is addressed to. NLC hears it, once."""
    nlv, nlc, bnf = two_instances["nlv"], two_instances["nlc"], two_instances["bnf"]
    await _pair(nlv, nlc, "NLV", "NLC")
    await _pair(nlv, bnf, "NLV", "BNF")
    url, body, headers = await _signed(nlv, "POST", "/federation/ping", {"hello": "nǐ hǎo"}, to=nlc["url"])
    elsewhere = bnf["url"] + "/federation/ping"
    async with httpx.AsyncClient() as wire:
        replayed = await wire.post(elsewhere, content=body, headers=headers)
        assert replayed.status_code == 401, replayed.text
        posing = await wire.post(elsewhere, content=body, headers=headers | {"host": nlc["url"].removeprefix("http://")})
        assert posing.status_code in (400, 401), posing.text
        # Signed for the BnF's key but sent to NLC's address: the authority no longer matches either.
        _, body2, headers2 = await _signed(nlv, "POST", "/federation/ping", {}, to=nlc["url"])
        headers2 = headers2 | {services.RECIPIENT: await recipient_of(bnf["url"])}
        assert (await wire.post(elsewhere, content=body2, headers=headers2)).status_code == 401
        # NLC, to which it was addressed, hears it once.
        heard = await wire.post(url, content=body, headers=headers)
        assert heard.status_code == 200 and heard.json()["you_are"] == "NLV"
        # And the BnF hears what NLV addresses to it.
        url3, body3, headers3 = await _signed(nlv, "POST", "/federation/ping", {}, to=bnf["url"])
        assert (await wire.post(url3, content=body3, headers=headers3)).json() == {"pong": True, "you_are": "NLV"}
