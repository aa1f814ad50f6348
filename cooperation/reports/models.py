"""Report runs: one rendering of one report (on demand now; for a subscription's period once schedules exist)."""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from cooperation.db import UTCDateTime, new_id, utcnow


class ReportRun(SQLModel, table=True):
    __tablename__ = "report_run"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: str = Field(max_length=20)  # portfolio / partner / agreement / visit
    scope_id: uuid.UUID | None = None  # the institution, agreement or visit; none for the whole portfolio
    period_key: str | None = Field(default=None, max_length=10)
    language: str = Field(max_length=5)
    title: str = Field(max_length=300)
    requested_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", nullable=True, index=True)
    requested_by_name: str = Field(max_length=200)
    status: str = Field(default="rendering", max_length=20, index=True)  # rendering / ready / failed
    error: str | None = Field(default=None, max_length=2000)
    pdf_sha256: str | None = Field(default=None, max_length=64)
    pdf_bytes: int | None = None
    pages: int | None = None
    render_ms: int | None = None
    worker_peak_mib: float | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
