"""Builders for agreement payloads used across the agreement tests."""

import uuid
from datetime import date
from typing import Any


def agreement_payload(
    parties: list[uuid.UUID], *, reference: str = "NLV-NLC-2025", signed: date | None = None, **overrides: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "reference": reference,
        "title": "Cooperation Agreement between NLV and NLC",
        "kind": "cooperation_agreement",
        "summary": "Digital services, digitization of ancient books, expert exchanges.",
        "scope_tags": ["digitization", "expert exchange"],
        "parties": [
            {"institution_id": str(p), "signatory_name": None, "signatory_title": None, "signed_on": signed.isoformat() if signed else None}
            for p in parties
        ],
        "effective_on": "2025-04-10",
        "expires_on": "2030-04-09",
        "confidentiality": "parties",
    }
    payload.update(overrides)
    return payload
