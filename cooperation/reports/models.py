"""Report subscriptions (what, for whom, when), runs (one rendering: on demand, or a subscription's period,
claimed once) and deliveries (one e-mail to one recipient, retried until sent)."""

import uuid
from datetime import datetime, time
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from cooperation import i18n
from cooperation.db import UTCDateTime, new_id, utcnow
from cooperation.i18n import N_
from cooperation.records import RecordBase

i18n.register_labels(
    {
        "portfolio": N_("Portfolio progress report"),
        "partner": N_("Partner dossier"),
        "agreement": N_("Agreement dossier"),
        "visit": N_("Visit summary"),
        "monthly": N_("Monthly"),
        "quarterly": N_("Quarterly"),
        "weekly": N_("Weekly"),
        "claimed": N_("Queued"),
        "queued": N_("Queued"),
        "rendering": N_("Rendering"),
        "ready": N_("Ready"),
        "rendered": N_("Rendered"),
        "retrying": N_("Retrying"),
        "failed": N_("Failed"),
        "pending": N_("Pending"),
        "sending": N_("Sending"),
        "sent": N_("Sent"),
    }
)


class ReportSubscription(RecordBase, table=True):
    __tablename__ = "report_subscription"

    owner_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)  # whose view of the records the report shows
    kind: str = Field(max_length=20)
    scope_id: uuid.UUID | None = None
    period_kind: str = Field(max_length=10)  # month / quarter / year / week: the complete period before each run
    frequency: str = Field(max_length=10)  # monthly / quarterly / weekly
    day: int = 1  # monthly and quarterly: day of the month (1–28); weekly: 0 = Monday … 6 = Sunday
    at_time: time = Field(default=time(7, 0))
    time_zone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)
    language: str = Field(default="en", max_length=8)
    recipient_user_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    recipient_emails: list[str] = Field(default_factory=list, sa_type=JSON)
    active: bool = True


class ReportRun(SQLModel, table=True):
    __tablename__ = "report_run"
    # The claim: one run per subscription and period, whoever fires it and however often.
    __table_args__ = (UniqueConstraint("subscription_id", "period_key", name="uq_report_run_claim"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: str = Field(max_length=20)  # portfolio / partner / agreement / visit
    scope_id: uuid.UUID | None = None  # the institution, agreement or visit; none for the whole portfolio
    period_key: str | None = Field(default=None, max_length=30)  # 2025-11, 2025-Q4, 2025, 2025-W47, 2025-11-01..2025-11-30
    language: str = Field(max_length=8)
    title: str = Field(max_length=300)
    requested_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", nullable=True, index=True)
    requested_by_name: str = Field(max_length=200)
    status: str = Field(default="rendering", max_length=20, index=True)  # queued / rendering / ready / failed
    error: str | None = Field(default=None, max_length=2000)
    pdf_sha256: str | None = Field(default=None, max_length=64)
    pdf_bytes: int | None = None
    pages: int | None = None
    render_ms: int | None = None
    worker_peak_mib: float | None = None
    summary: list[Any] = Field(default_factory=list, sa_type=JSON)  # the e-mail's body: lines, or tiles and decisions
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    subscription_id: uuid.UUID | None = Field(default=None, foreign_key="report_subscription.id", nullable=True, index=True)
    scheduled_for: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    # Who holds the run while rendering, and until when: past it, another process may take the run over.
    lease_owner: str | None = Field(default=None, max_length=80)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    attempts: int = 0
    # The HTML a `coop worker` renders (a queued run): kept in the file store, named by its SHA-256.
    html_sha256: str | None = Field(default=None, max_length=64)


class ReportDelivery(SQLModel, table=True):
    """One e-mail of one run to one address: sent once, retried with back-off while it fails."""

    __tablename__ = "report_delivery"
    __table_args__ = (UniqueConstraint("run_id", "address", name="uq_report_delivery"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    run_id: uuid.UUID = Field(foreign_key="report_run.id", index=True)
    address: str = Field(max_length=320)
    status: str = Field(default="pending", max_length=10, index=True)  # pending / sending / sent / failed
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class RenderWorker(SQLModel, table=True):
    """A `coop worker` process that renders queued report runs, seen at each of its polls: while one has been seen in
    the last WORKER_ALIVE seconds, web servers queue the runs they are asked for instead of rendering them."""

    __tablename__ = "render_worker"

    name: str = Field(max_length=120, primary_key=True)  # host:pid
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    rendered: int = 0
