"""Bilateral and multilateral agreements, their parties, commitments and expiry reminders."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from cooperation.db import UTCDateTime, new_id, utcnow
from cooperation.records import RecordBase


class Agreement(RecordBase, table=True):
    __tablename__ = "agreement"
    # The default list order (newest signed first) of live agreements, and their count, from one index.
    __table_args__ = (
        Index(
            "ix_agreement_live_signed_on",
            "signed_on",
            "id",
            postgresql_where=text("archived_at IS NULL"),
            sqlite_where=text("archived_at IS NULL"),
        ),
        # The home page's count by status, read from the index alone (10 ms at 100,000 agreements instead of 35).
        Index("ix_agreement_live_status", "status", postgresql_where=text("archived_at IS NULL"), sqlite_where=text("archived_at IS NULL")),
        # The public portal's agreements (a few among 100,000), the latest in force first, without a scan.
        Index(
            "ix_agreement_public",
            "effective_on",
            postgresql_where=text("confidentiality = 'public' AND archived_at IS NULL"),
            sqlite_where=text("confidentiality = 'public' AND archived_at IS NULL"),
        ),
    )

    reference: str = Field(max_length=60, unique=True, index=True)
    title: str = Field(max_length=400)
    title_native: str | None = Field(default=None, max_length=400)
    kind: str = Field(max_length=40)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    scope_tags: list[str] = Field(default_factory=list, sa_type=JSON)
    # Title and summary in other languages: {"vi": {"title": …, "summary": …}} (cooperation/versions.py).
    translations: dict[str, dict[str, str]] = Field(default_factory=dict, sa_type=JSON, sa_column_kwargs={"server_default": text("'{}'")})
    status: str = Field(default="draft", max_length=20, index=True)
    signed_on: date | None = None
    effective_on: date | None = None
    expires_on: date | None = Field(default=None, index=True)
    auto_renew: bool = False
    renewal_term_months: int | None = None
    notice_period_days: int | None = None
    confidentiality: str = Field(default="internal", max_length=20)  # internal until a coordinator shares it
    # The language whose text prevails in case of divergence between the signed texts (vi, zh, en…), if one does.
    prevailing_language: str | None = Field(default=None, max_length=8)
    predecessor_id: uuid.UUID | None = Field(default=None, foreign_key="agreement.id", nullable=True, index=True)
    status_note: str | None = Field(default=None, max_length=1000)
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class AgreementParty(SQLModel, table=True):
    __tablename__ = "agreement_party"
    __table_args__ = (UniqueConstraint("agreement_id", "institution_id", name="uq_agreement_party"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", index=True)
    institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    position: int = 0
    signatory_name: str | None = Field(default=None, max_length=200)
    signatory_title: str | None = Field(default=None, max_length=200)
    signed_on: date | None = None


class Commitment(RecordBase, table=True):
    __tablename__ = "commitment"

    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", index=True)
    position: int = 0
    text: str = Field(max_length=1000)
    responsible_institution_id: uuid.UUID | None = Field(default=None, foreign_key="institution.id", nullable=True)
    due_on: date | None = None
    yearly_target: int | None = None
    unit: str | None = Field(default=None, max_length=60)
    status: str = Field(default="planned", max_length=20)
    progress: int = 0
    notes: str | None = Field(default=None, max_length=2000)


class CommitmentLink(SQLModel, table=True):
    """A record (visit, exchange, project, ...) that fulfils a commitment."""

    __tablename__ = "commitment_link"
    __table_args__ = (UniqueConstraint("commitment_id", "record_type", "record_id", name="uq_commitment_link"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    commitment_id: uuid.UUID = Field(foreign_key="commitment.id", index=True)
    record_type: str = Field(max_length=40)
    record_id: uuid.UUID
    label: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AgreementReminder(SQLModel, table=True):
    """A reminder produced once for an agreement's notice deadline or expiry date."""

    __tablename__ = "agreement_reminder"
    __table_args__ = (UniqueConstraint("agreement_id", "kind", "due_on", name="uq_agreement_reminder"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", index=True)
    kind: str = Field(max_length=20)
    due_on: date
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class AgreementApproval(SQLModel, table=True):
    """One request that a paired instance approve an agreement's conditions, kept on both sides.

    The requesting side keeps it with direction "asked" and its own agreement; the asked side with direction "received",
    linked to its own record of the agreement once found or created. Both keep the snapshot that was asked about, its
    SHA-256, the answer (approved or a comment back), who and when, and the signed messages that carried them."""

    __tablename__ = "agreement_approval"
    __table_args__ = (UniqueConstraint("peer_id", "exchange_id", "direction", name="uq_agreement_approval"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    exchange_id: uuid.UUID  # the requester's id for this request: the same on both sides
    peer_id: uuid.UUID = Field(foreign_key="peer.id", index=True)
    direction: str = Field(max_length=10)  # asked | received
    agreement_id: uuid.UUID | None = Field(default=None, foreign_key="agreement.id", nullable=True, index=True)
    reference: str = Field(max_length=60)  # the requester's reference for the agreement
    hash: str = Field(max_length=64)
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # How the requester names the two parties in the snapshot: itself, and the instance it asks.
    from_party: str = Field(default="", max_length=300)
    to_party: str = Field(default="", max_length=300)
    state: str = Field(default="pending", max_length=12)  # pending | approved | commented | superseded
    asked_by: str = Field(max_length=200)
    asked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    answered_by: str | None = Field(default=None, max_length=200)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The signed messages as they crossed (body, Content-Digest, Signature-Input, Signature): the proof of each step.
    request_message: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    answer_message: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
