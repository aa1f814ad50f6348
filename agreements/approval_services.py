"""Two libraries approve the same agreement, each on its own instance.

The snapshot holds the cooperation conditions — parties and their signatories, the dates and the renewal terms, the
commitments, and the checksums of the signed texts — serialized by RFC 8785 (JSON Canonicalization Scheme: sorted
keys, one number form, UTF-8 as is), and its SHA-256 is the agreement's hash. Any change to those conditions changes
the hash; a status that follows the calendar, a comment or a progress figure does not.

The round trip, between two paired instances (cooperation/peers):
1. A coordinator here asks a paired partner to approve: the snapshot and its hash are kept (direction "asked") and the
   partner's instance is told, by a signed request, which request and which hash.
2. The partner's instance fetches that snapshot by a signed request, checks it against the hash, and keeps it
   (direction "received"), linked to its own record of the agreement: the one with the same reference and both
   parties, or one its coordinator chooses, or a draft made from the snapshot.
3. Its coordinator reads the two side by side, every difference listed, and approves this exact hash or sends back a
   comment. The answer is signed; the asking side refuses it when the conditions changed since it asked (the hash is
   outdated), and keeps it otherwise. Both sides keep the request, the answer, who, when and the signed messages.
4. Any later edit changes the hash: the approval shows as outdated here, with what changed since, and a new request
   can be made (it supersedes a request still waiting).
"""

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import rfc8785
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agreements import services
from agreements.models import Agreement, AgreementApproval, AgreementParty, Commitment
from agreements.schemas import AgreementIn, AgreementKind, CommitmentIn
from cooperation import audit, files, i18n
from cooperation.auth.access import Principal, operator, require_manager
from cooperation.db import table, utcnow
from cooperation.errors import ConflictError, NotFoundError, ValidationFailed
from cooperation.i18n import N_
from cooperation.partners.models import Institution
from cooperation.partners.services import home_institution_id
from cooperation.peers import services as peers
from cooperation.peers.models import Peer
from cooperation.settings import Settings

FORMAT = "libcoop-agreement-snapshot/1"


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def snapshot(session: AsyncSession, principal: Principal, agreement_id: uuid.UUID) -> dict[str, Any]:
    """The conditions of the agreement as plain JSON values (404 for whoever may not see it)."""
    agreement = await services.get_agreement(session, principal, agreement_id)
    # The signed texts the parties share: a document kept for the department is no condition (and no partner's business).
    texts = await files.list_for(session, "agreement", agreement_id, shared_only=True)
    names = {p.institution_id: p.name for p in agreement.parties}
    return {
        "format": FORMAT,
        "reference": agreement.reference,
        "title": agreement.title,
        "title_native": agreement.title_native,
        "kind": agreement.kind,
        "signed_on": _day(agreement.signed_on),
        "effective_on": _day(agreement.effective_on),
        "expires_on": _day(agreement.expires_on),
        "auto_renew": agreement.auto_renew,
        "renewal_term_months": agreement.renewal_term_months,
        "notice_period_days": agreement.notice_period_days,
        "prevailing_language": agreement.prevailing_language,
        "parties": sorted(
            (
                {
                    "name": p.name,
                    "name_native": p.name_native,
                    "country": p.country,
                    "signatory_name": p.signatory_name,
                    "signatory_title": p.signatory_title,
                    "signed_on": _day(p.signed_on),
                }
                for p in agreement.parties
            ),
            key=lambda p: (p["country"] or "", p["name"]),
        ),
        "commitments": sorted(
            (
                {
                    "text": c.text,
                    "responsible": names.get(c.responsible_institution_id) if c.responsible_institution_id else None,
                    "due_on": _day(c.due_on),
                    "yearly_target": c.yearly_target,
                    "unit": c.unit,
                }
                for c in agreement.commitments
            ),
            key=lambda c: (c["text"], c["due_on"] or ""),
        ),
        "texts": sorted(({"sha256": t.sha256, "language": t.language, "title": t.title} for t in texts), key=lambda t: t["sha256"]),
    }


def digest(values: dict[str, Any]) -> str:
    """The SHA-256 (hex) of the snapshot's RFC 8785 form: the same bytes, and so the same hash, on any machine."""
    return hashlib.sha256(rfc8785.dumps(values)).hexdigest()


def short(hash_hex: str) -> str:
    """The form people read out to each other: the first 48 bits in four groups."""
    return " ".join(hash_hex[i : i + 4] for i in range(0, 16, 4))


# ---- what changed between two snapshots -----------------------------------------------------------------------

FIELDS = (
    "reference",
    "title",
    "title_native",
    "kind",
    "signed_on",
    "effective_on",
    "expires_on",
    "auto_renew",
    "renewal_term_months",
    "notice_period_days",
    "prevailing_language",
)
LISTS = ("parties", "commitments", "texts")


def _label(kind: str, item: dict[str, Any]) -> str:
    """One party, commitment or text in a line a person compares with another."""
    if kind == "parties":
        signed = ", ".join(str(v) for v in (item.get("signatory_name"), item.get("signatory_title"), item.get("signed_on")) if v)
        return f"{item.get('name')} ({item.get('country') or '—'})" + (f" — {signed}" if signed else "")
    if kind == "commitments":
        extra = [str(v) for v in (item.get("responsible"), item.get("due_on")) if v]
        if item.get("yearly_target"):
            extra.append(f"{item['yearly_target']} {item.get('unit') or ''}".strip())
        return str(item.get("text")) + (f" ({'; '.join(extra)})" if extra else "")
    return f"{item.get('title')} [{item.get('language') or '—'}] {str(item.get('sha256'))[:12]}"


@dataclass
class Difference:
    """A condition that differs: a field with its two values, or a party, commitment or text only on one side."""

    field: str
    before: str | None
    after: str | None


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[Difference]:
    """Every condition that differs from `before` to `after` (two snapshots), fields first, then list items."""
    found = [Difference(name, _shown(before.get(name)), _shown(after.get(name))) for name in FIELDS if before.get(name) != after.get(name)]
    for kind in LISTS:
        old = [_label(kind, i) for i in before.get(kind) or [] if isinstance(i, dict)]
        new = [_label(kind, i) for i in after.get(kind) or [] if isinstance(i, dict)]
        found += [Difference(kind, label, None) for label in old if label not in new]
        found += [Difference(kind, None, label) for label in new if label not in old]
    return found


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return i18n.gettext("yes") if value else i18n.gettext("no")
    return str(value)


# ---- asking a partner's instance ------------------------------------------------------------------------------

AA, AG, AP, PE, I = (table(m).c for m in (AgreementApproval, Agreement, AgreementParty, Peer, Institution))  # noqa: E741
COMMENT_MAX = 4000


async def peers_for(session: AsyncSession, agreement_id: uuid.UUID) -> list[Any]:
    """The paired instances that speak for a party of this agreement (id, address, their institution's code here)."""
    rows = await session.execute(
        select(PE.id, PE.base_url, I.code, I.name)
        .join(table(Institution), I.id == PE.institution_id)
        .join(table(AgreementParty), and_(AP.institution_id == PE.institution_id, AP.agreement_id == agreement_id))
        .where(PE.archived_at.is_(None))
        .order_by(I.code)
    )
    return list(rows)


def _party_name(agreement: Any, institution_id: uuid.UUID | None) -> str:
    """How the snapshot names one institution's party (the party's name, as stored here)."""
    return next((p.name for p in agreement.parties if p.institution_id == institution_id), "")


async def _live_peer(session: AsyncSession, peer_id: uuid.UUID) -> Peer:
    peer = await session.get(Peer, peer_id)
    if peer is None or peer.archived_at is not None:
        raise ValidationFailed({"peer_id": i18n.gettext("choose a paired instance")})
    return peer


async def may_ask(session: AsyncSession, principal: Principal, agreement_id: uuid.UUID) -> Any:
    """The agreement, if this person may ask a partner to approve it (404 if they may not see it, 403 if not change)."""
    agreement = await services.get_agreement(session, principal, agreement_id)
    require_manager(principal, N_("ask a partner to approve an agreement"))
    return agreement


async def ask(session: AsyncSession, principal: Principal, settings: Settings, agreement_id: uuid.UUID, peer_id: uuid.UUID) -> uuid.UUID:
    """Ask the paired instance `peer_id` to approve the agreement's conditions as they are now."""
    agreement = await may_ask(session, principal, agreement_id)
    if agreement.archived:
        raise ConflictError(i18n.gettext("This agreement is archived; restore it first."))
    peer = await _live_peer(session, peer_id)
    home = await home_institution_id(session)
    party_ids = {p.institution_id for p in agreement.parties}
    if peer.institution_id not in party_ids or home not in party_ids:
        raise ValidationFailed(
            {"peer_id": i18n.gettext("the instance must speak for a party of this agreement, and this library must be one")}
        )
    values = await snapshot(session, principal, agreement_id)
    conditions = digest(values)
    waiting = list(
        await session.scalars(
            select(AA.exchange_id).where(
                AA.agreement_id == agreement_id, AA.peer_id == peer.id, AA.direction == "asked", AA.state == "pending"
            )
        )
    )
    row = AgreementApproval(
        exchange_id=uuid.uuid4(),
        peer_id=peer.id,
        direction="asked",
        agreement_id=agreement_id,
        reference=agreement.reference,
        hash=conditions,
        snapshot=values,
        from_party=_party_name(agreement, home),
        to_party=_party_name(agreement, peer.institution_id),
        asked_by=principal.name,
    )
    session.add(row)
    await session.commit()  # stored before the partner's instance comes to fetch it
    notice = {
        "exchange_id": str(row.exchange_id),
        "reference": row.reference,
        "sha256": conditions,
        "from_party": row.from_party,
        "to_party": row.to_party,
        "asked_by": principal.name,
        "supersedes": [str(e) for e in waiting],
    }
    try:
        status, reply, sent = await peers.signed_exchange(session, settings, peer, "POST", "/federation/approvals", notice)
        if status != 200:
            detail = peers.refusal_detail(reply, status)
            raise ConflictError(i18n.gettext("%(instance)s did not take the request: %(detail)s", instance=peer.base_url, detail=detail))
    except Exception:
        await session.rollback()
        await session.execute(delete(AgreementApproval).where(AA.id == row.id))  # nothing was asked after all
        await session.commit()
        raise
    await session.execute(update(AgreementApproval).where(AA.id == row.id).values(request_message=sent))
    if waiting:
        await session.execute(
            update(AgreementApproval)
            .where(AA.peer_id == peer.id, AA.direction == "asked", AA.exchange_id.in_(waiting), AA.state == "pending")
            .values(state="superseded")
        )
    audit.record(
        session,
        principal,
        "ask_approval",
        "agreement",
        agreement_id,
        summary=f"Asked {peer.their_code or peer.base_url} to approve the conditions {short(conditions)}",
    )
    await session.commit()
    return row.id


# ---- the asked side -----------------------------------------------------------------------------------------


def _text(payload: dict[str, Any], name: str, limit: int, *, required: bool = True) -> str:
    value = payload.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise ValidationFailed({name: i18n.gettext("is required (text of at most %(n)s characters)", n=limit)})
    return value.strip()


def _payload(body: bytes) -> dict[str, Any]:
    """A signed message's JSON object, or 422 naming the body."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValidationFailed({"body": i18n.gettext("is not JSON")}) from exc
    if not isinstance(payload, dict):
        raise ValidationFailed({"body": i18n.gettext("is not JSON")})
    return payload


def _uuid(value: Any, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise ValidationFailed({name: i18n.gettext("is not an identifier")}) from exc


async def _matching_record(session: AsyncSession, peer: Peer, reference: str) -> uuid.UUID | None:
    """Our own record of the agreement: the same reference, with this library and the asking one both parties."""
    home = await home_institution_id(session)
    both = [select(AP.agreement_id).where(AP.institution_id == institution) for institution in (home, peer.institution_id)]
    return await session.scalar(
        select(AG.id).where(AG.reference == reference, AG.archived_at.is_(None), AG.id.in_(both[0]), AG.id.in_(both[1])).limit(1)
    )


async def receive_request(session: AsyncSession, settings: Settings, peer: Peer, body: bytes, message: dict[str, str]) -> dict[str, Any]:
    """A paired instance asks us to approve: fetch the snapshot it means, check it against the hash, keep it."""
    payload = _payload(body)
    exchange_id = _uuid(payload.get("exchange_id"), "exchange_id")
    announced = _text(payload, "sha256", 64)
    supersedes = payload.get("supersedes") or []
    if not isinstance(supersedes, list) or len(supersedes) > 100:
        raise ValidationFailed({"supersedes": i18n.gettext("is a list of identifiers")})
    replaced = [_uuid(e, "supersedes") for e in supersedes]
    await session.commit()  # the nonce is kept before we call back
    status, answer, _ = await peers.signed_exchange(session, settings, peer, "POST", f"/federation/approvals/{exchange_id}/snapshot", {})
    values = answer.get("snapshot") if isinstance(answer, dict) else None
    if status != 200 or not isinstance(values, dict) or values.get("format") != FORMAT:
        raise ValidationFailed({"exchange_id": i18n.gettext("its instance does not give the snapshot of this request")})
    if digest(values) != announced:
        raise ValidationFailed({"sha256": i18n.gettext("the snapshot fetched does not have the hash announced")})
    reference = str(values.get("reference") or "")[:60]
    row = AgreementApproval(
        exchange_id=exchange_id,
        peer_id=peer.id,
        direction="received",
        agreement_id=await _matching_record(session, peer, reference),
        reference=reference,
        hash=announced,
        snapshot=values,
        from_party=_text(payload, "from_party", 300, required=False),
        to_party=_text(payload, "to_party", 300, required=False),
        asked_by=_text(payload, "asked_by", 200),
        request_message=message,
    )
    session.add(row)
    if replaced:
        await session.execute(
            update(AgreementApproval)
            .where(AA.peer_id == peer.id, AA.direction == "received", AA.exchange_id.in_(replaced), AA.state == "pending")
            .values(state="superseded")
        )
    try:
        await session.flush()
    except IntegrityError as exc:  # the same request twice (its unique key): already kept
        await session.rollback()
        raise ConflictError(i18n.gettext("This request was already received.")) from exc
    audit.record(
        session,
        None,
        "approval_asked",
        "agreement" if row.agreement_id else "peer",
        row.agreement_id or peer.id,
        summary=f"{peer.their_code or peer.base_url} asks to approve {reference} ({short(announced)})",
    )
    await session.commit()
    return {"received": True, "record_found": row.agreement_id is not None}


async def fetch_asked(session: AsyncSession, peer: Peer, exchange_id: uuid.UUID) -> dict[str, Any]:
    """The snapshot we asked `peer` about, for that peer only (404 to anyone else)."""
    row = (
        await session.execute(
            select(AA.snapshot, AA.hash).where(AA.exchange_id == exchange_id, AA.peer_id == peer.id, AA.direction == "asked")
        )
    ).first()
    if row is None:
        raise NotFoundError("approval request")
    return {"snapshot": row.snapshot, "sha256": row.hash}


def _staff_only(principal: Principal) -> None:
    """Requests between instances are the department's business: a partner librarian is told they do not exist."""
    if not principal.reads_everything:
        raise NotFoundError("approval request")


async def _received(session: AsyncSession, principal: Principal, approval_id: uuid.UUID, *, manage: bool = True) -> AgreementApproval:
    _staff_only(principal)
    if manage:
        require_manager(principal, N_("answer a partner's approval request"))
    row = await session.get(AgreementApproval, approval_id)
    if row is None or row.direction != "received":
        raise NotFoundError("approval request")
    return row


async def answer(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    approval_id: uuid.UUID,
    *,
    decision: str,
    sha256: str,
    comment: str,
) -> None:
    """Approve exactly the hash asked about, or send back a comment; told to the asking instance, then kept here."""
    row = await _received(session, principal, approval_id)
    if row.state != "pending":
        raise ConflictError(i18n.gettext("This request was already answered or replaced by a newer one."))
    comment = comment.strip()
    if decision not in ("approved", "commented"):
        raise ValidationFailed({"decision": i18n.gettext("approve, or send a comment")})
    if len(comment) > COMMENT_MAX:
        raise ValidationFailed({"comment": i18n.gettext("at most %(n)s characters", n=COMMENT_MAX)})
    if decision == "commented" and not comment:
        raise ValidationFailed({"comment": i18n.gettext("say what should change")})
    if decision == "approved":
        if sha256 != row.hash:
            raise ConflictError(i18n.gettext("These are not the conditions you were asked to approve."))
        if row.agreement_id is None:
            raise ValidationFailed({"agreement_id": i18n.gettext("link this request to our own record of the agreement first")})
    peer = await session.get(Peer, row.peer_id)
    assert peer is not None  # a foreign key
    message = {"exchange_id": str(row.exchange_id), "decision": decision, "sha256": row.hash, "comment": comment, "by": principal.name}
    exchange_id, hash_asked, agreement_id = row.exchange_id, row.hash, row.agreement_id
    status, reply, sent = await peers.signed_exchange(session, settings, peer, "POST", "/federation/approvals/answer", message)
    if status != 200:
        raise ConflictError(
            i18n.gettext("%(instance)s refused the answer: %(detail)s", instance=peer.base_url, detail=peers.refusal_detail(reply, status))
        )
    await session.execute(
        update(AgreementApproval)
        .where(AA.id == approval_id)
        .values(state=decision, answered_by=principal.name, answered_at=utcnow(), comment=comment or None, answer_message=sent)
    )
    said = "Approved" if decision == "approved" else "Commented on"
    audit.record(
        session,
        principal,
        "approve" if decision == "approved" else "comment_approval",
        "agreement" if agreement_id else "peer",
        agreement_id or peer.id,
        summary=f"{said} the conditions {short(hash_asked)} asked by {peer.their_code or peer.base_url} ({exchange_id})",
    )
    await session.commit()


async def receive_answer(session: AsyncSession, peer: Peer, body: bytes, message: dict[str, str]) -> dict[str, Any]:
    """The asked instance answers: an approval of the hash asked (refused when the conditions changed since: outdated),
    or a comment back."""
    payload = _payload(body)
    exchange_id = _uuid(payload.get("exchange_id"), "exchange_id")
    decision = payload.get("decision")
    if decision not in ("approved", "commented"):
        raise ValidationFailed({"decision": i18n.gettext("approve, or send a comment")})
    by = _text(payload, "by", 200)
    comment = _text(payload, "comment", COMMENT_MAX, required=decision == "commented")
    row = (
        (
            await session.execute(
                select(AgreementApproval).where(AA.exchange_id == exchange_id, AA.peer_id == peer.id, AA.direction == "asked")
            )
        )
        .scalars()
        .first()
    )
    if row is None:
        raise NotFoundError("approval request")
    if row.state == "superseded":
        raise ConflictError(i18n.gettext("A newer request replaced this one: answer that one."))
    if row.state != "pending":
        raise ConflictError(i18n.gettext("This request was already answered."))
    if decision == "approved":
        if payload.get("sha256") != row.hash:
            raise ConflictError(i18n.gettext("These are not the conditions that were asked about."))
        assert row.agreement_id is not None  # an asked request always has its agreement
        now = digest(await snapshot(session, operator(), row.agreement_id))
        if now != row.hash:
            raise ConflictError(
                i18n.gettext(
                    "The conditions changed since the request (they are now %(now)s, not %(asked)s): the approval of an outdated hash"
                    " is refused; a new request will follow.",
                    now=short(now),
                    asked=short(row.hash),
                )
            )
    row.state, row.answered_by, row.answered_at = decision, by, utcnow()
    row.comment, row.answer_message = comment or None, message
    said = "approved" if decision == "approved" else "commented on"
    audit.record(
        session,
        None,
        "approved" if decision == "approved" else "approval_commented",
        "agreement",
        row.agreement_id,
        summary=f"{by} ({peer.their_code or peer.base_url}) {said} the conditions {short(row.hash)}",
    )
    await session.commit()
    return {"recorded": True}


# ---- linking a request to our own record ----------------------------------------------------------------------


async def candidates(session: AsyncSession, peer: Peer) -> list[Any]:
    """Our agreements with the asking library as a party: one of them may be our record of what it asks about."""
    home = await home_institution_id(session)
    both = [select(AP.agreement_id).where(AP.institution_id == institution) for institution in (home, peer.institution_id)]
    rows = await session.execute(
        select(AG.id, AG.reference, AG.title, AG.status)
        .where(AG.archived_at.is_(None), AG.id.in_(both[0]), AG.id.in_(both[1]))
        .order_by(AG.signed_on.desc().nulls_last(), AG.reference)
        .limit(200)
    )
    return list(rows)


async def link(session: AsyncSession, principal: Principal, approval_id: uuid.UUID, agreement_id: uuid.UUID) -> None:
    """This request is about our record `agreement_id` (one with both libraries as parties)."""
    row = await _received(session, principal, approval_id)
    peer = await session.get(Peer, row.peer_id)
    assert peer is not None
    if agreement_id not in {c.id for c in await candidates(session, peer)}:
        raise ValidationFailed({"agreement_id": i18n.gettext("choose one of our agreements with both libraries as parties")})
    row.agreement_id = agreement_id
    audit.record(session, principal, "link_approval", "agreement", agreement_id, summary=f"Linked to the request {row.exchange_id}")
    await session.commit()


async def _institutions_named(session: AsyncSession, names: list[str]) -> dict[str, uuid.UUID]:
    """Our institutions by the names another instance gives them (its name or its native name), in one query."""
    rows = await session.execute(
        select(I.id, I.name, I.name_native).where(I.archived_at.is_(None), or_(I.name.in_(names), I.name_native.in_(names)))
    )
    found: dict[str, uuid.UUID] = {}
    for r in rows:
        for name in (r.name, r.name_native):
            if name in names:
                found.setdefault(name, r.id)
    return found


async def create_draft(session: AsyncSession, principal: Principal, approval_id: uuid.UUID) -> uuid.UUID:
    """Our record of the agreement, made from the snapshot asked about: a draft with its parties, dates and commitments
    (the signed texts are not copied: their checksums say which files to upload)."""
    row = await _received(session, principal, approval_id)
    if row.agreement_id is not None:
        raise ConflictError(i18n.gettext("This request is already linked to our record of the agreement."))
    peer = await session.get(Peer, row.peer_id)
    assert peer is not None
    values = row.snapshot
    home = await home_institution_id(session)
    parties: list[dict[str, Any]] = []
    ids: dict[str, uuid.UUID] = {}
    missing = []
    named = await _institutions_named(session, [str(p.get("name") or "") for p in values.get("parties") or []])
    for party in values.get("parties") or []:
        name = str(party.get("name") or "")
        found = peer.institution_id if name == row.from_party else home if name == row.to_party else named.get(name)
        if found is None:
            missing.append(name)
            continue
        ids[name] = found
        parties.append(
            {
                "institution_id": found,
                "signatory_name": party.get("signatory_name"),
                "signatory_title": party.get("signatory_title"),
                "signed_on": party.get("signed_on"),
            }
        )
    if missing:
        raise ValidationFailed(
            {"parties": i18n.gettext("no institution here is named %(names)s: add it, then make the draft", names=", ".join(missing))}
        )
    reference = row.reference
    if await session.scalar(select(AG.id).where(AG.reference == reference)):  # ours already names another agreement so
        reference = f"{reference}-{peer.their_code or 'P'}"[:60]
    kinds = {k.value for k in AgreementKind}
    draft = {
        "reference": reference,
        "title": str(values.get("title") or row.reference)[:400],
        "title_native": values.get("title_native"),
        "kind": values["kind"] if values.get("kind") in kinds else AgreementKind.COOPERATION_AGREEMENT.value,
        "parties": parties,
        **{key: values.get(key) for key in ("signed_on", "effective_on", "expires_on", "renewal_term_months", "notice_period_days")},
        "auto_renew": bool(values.get("auto_renew")),
        "prevailing_language": values.get("prevailing_language"),
    }
    listed = [item for item in values.get("commitments") or [] if isinstance(item, dict)]
    try:  # their values, checked as any typed in here would be: a wrong one is said, not a server error
        data = msgspec.convert(draft, AgreementIn)
        commitments = msgspec.convert(
            [
                {
                    "text": str(item.get("text") or "")[:1000],
                    "responsible_institution_id": ids.get(str(item.get("responsible") or "")),
                    "due_on": item.get("due_on"),
                    "yearly_target": item.get("yearly_target"),
                    "unit": item.get("unit"),
                }
                for item in listed
            ],
            list[CommitmentIn],
        )
    except msgspec.ValidationError as exc:
        message = i18n.gettext("their conditions cannot be made into an agreement here: %(reason)s", reason=str(exc)[:200])
        raise ValidationFailed({"agreement_id": message}) from exc
    agreement_id = await services.create_agreement(session, principal, data)
    for position, commitment in enumerate(commitments):
        cleaned = await services.clean_commitment(session, agreement_id, commitment)
        session.add(Commitment(agreement_id=agreement_id, position=position, **cleaned))
    row.agreement_id = agreement_id
    await session.commit()
    return agreement_id


# ---- reading ----------------------------------------------------------------------------------------------------


@dataclass
class ApprovalLine:
    """One request in an agreement's history of approvals, on either side."""

    id: uuid.UUID
    exchange_id: uuid.UUID
    direction: str
    instance: str
    institution: str
    reference: str
    hash: str
    short: str
    state: str
    asked_by: str
    asked_at: datetime
    answered_by: str | None
    answered_at: datetime | None
    comment: str | None
    agreement_id: uuid.UUID | None
    outdated: bool = False
    changed: list[Difference] = field(default_factory=list)


def _lines(rows: Any, current: dict[str, Any] | None = None) -> list[ApprovalLine]:
    """Rows of agreement_approval (with the peer's address and institution) as lines; an approval we asked for whose
    hash is no longer the agreement's is outdated, with what changed since."""
    now = digest(current) if current is not None else None
    lines = []
    for r in rows:
        line = ApprovalLine(
            id=r.id,
            exchange_id=r.exchange_id,
            direction=r.direction,
            instance=r.base_url,
            institution=r.code,
            reference=r.reference,
            hash=r.hash,
            short=short(r.hash),
            state=r.state,
            asked_by=r.asked_by,
            asked_at=r.asked_at,
            answered_by=r.answered_by,
            answered_at=r.answered_at,
            comment=r.comment,
            agreement_id=r.agreement_id,
        )
        if current is not None and r.direction == "asked" and r.state in ("approved", "pending") and r.hash != now:
            line.outdated = True
            line.changed = differences(r.snapshot, current)
        lines.append(line)
    return lines


def _line_columns() -> tuple[Any, ...]:
    return (
        AA.id,
        AA.exchange_id,
        AA.direction,
        AA.reference,
        AA.hash,
        AA.state,
        AA.asked_by,
        AA.asked_at,
        AA.answered_by,
        AA.answered_at,
        AA.comment,
        AA.agreement_id,
        AA.snapshot,
        PE.base_url,
        I.code,
    )


def _joined(query: Any) -> Any:
    return query.join(table(Peer), PE.id == AA.peer_id).join(table(Institution), I.id == PE.institution_id)


async def history(session: AsyncSession, principal: Principal, agreement_id: uuid.UUID, current: dict[str, Any]) -> list[ApprovalLine]:
    """Every request about this agreement, asked or received, oldest first (staff only: it names other instances)."""
    if not principal.reads_everything:
        return []
    rows = await session.execute(_joined(select(*_line_columns())).where(AA.agreement_id == agreement_id).order_by(AA.asked_at, AA.id))
    return _lines(rows, current)


async def list_requests(session: AsyncSession, principal: Principal) -> list[ApprovalLine]:
    """Every request, newest first: those received waiting first."""
    _staff_only(principal)
    rows = await session.execute(_joined(select(*_line_columns())).order_by((AA.state == "pending").desc(), AA.asked_at.desc()).limit(500))
    return _lines(rows)


@dataclass
class ReceivedRequest:
    """A request received, as its answering page shows it: theirs and ours side by side."""

    line: ApprovalLine
    theirs: dict[str, Any]
    ours: dict[str, Any] | None
    ours_reference: str | None
    differences: list[Difference]
    candidates: list[Any]
    asked_of: str = ""


async def may_answer(session: AsyncSession, principal: Principal, approval_id: uuid.UUID) -> None:
    """404 unless staff and the request was received; 403 unless a coordinator or an administrator."""
    await _received(session, principal, approval_id)


async def received(session: AsyncSession, principal: Principal, approval_id: uuid.UUID) -> ReceivedRequest:
    row = await _received(session, principal, approval_id, manage=False)
    peer = await session.get(Peer, row.peer_id)
    assert peer is not None
    (line,) = _lines(await session.execute(_joined(select(*_line_columns())).where(AA.id == approval_id)))
    ours = await snapshot(session, principal, row.agreement_id) if row.agreement_id else None
    return ReceivedRequest(
        line=line,
        theirs=row.snapshot,
        ours=ours,
        ours_reference=ours["reference"] if ours else None,
        differences=differences(ours, row.snapshot) if ours else [],
        candidates=[] if ours else await candidates(session, peer),
        asked_of=row.to_party,
    )


async def waiting(session: AsyncSession, principal: Principal) -> int | None:
    """Requests received and not answered yet, for the agreements list; None where there is nothing to show (not a
    coordinator, or no instance was ever paired)."""
    if not principal.manages_records or await session.scalar(select(PE.id).limit(1)) is None:
        return None
    return int(await session.scalar(select(func.count()).where(AA.direction == "received", AA.state == "pending")) or 0)
