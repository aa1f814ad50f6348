"""An agreement's canonical snapshot: what two libraries approve when each keeps its own record of it (issue 16).

The snapshot holds the cooperation conditions — parties and their signatories, the dates and the renewal terms, the
commitments, and the checksums of the signed texts — serialized by RFC 8785 (JSON Canonicalization Scheme: sorted
keys, one number form, UTF-8 as is), and its SHA-256 is the agreement's hash. Any change to those conditions changes
the hash; a status that follows the calendar, a comment or a progress figure does not.
"""

import hashlib
import uuid
from typing import Any

import rfc8785
from sqlalchemy.ext.asyncio import AsyncSession

from agreements import services
from cooperation import files
from cooperation.auth.access import Principal

FORMAT = "libcoop-agreement-snapshot/1"


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def snapshot(session: AsyncSession, principal: Principal, agreement_id: uuid.UUID) -> dict[str, Any]:
    """The conditions of the agreement as plain JSON values (404 for whoever may not see it)."""
    agreement = await services.get_agreement(session, principal, agreement_id)
    texts = await files.list_for(session, "agreement", agreement_id)
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
