"""Expert-exchange programmes (quotas) and shared digitization projects (targets, milestones, progress reports)."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Column, Index, Numeric, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from cooperation.db import UTCDateTime, new_id, utcnow
from cooperation.records import RecordBase


class Programme(RecordBase, table=True):
    """A multi-year expert-exchange programme, e.g. "up to three experts each way per year, 2025–2028"."""

    __tablename__ = "programme"

    name: str = Field(max_length=300)
    agreement_id: uuid.UUID | None = Field(default=None, foreign_key="agreement.id", nullable=True, index=True)
    starts_on: date
    ends_on: date
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # Name and description in other languages: {"vi": {"title": …, "summary": …}} (cooperation/versions.py).
    translations: dict[str, dict[str, str]] = Field(default_factory=dict, sa_type=JSON, sa_column_kwargs={"server_default": text("'{}'")})
    budget_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2), nullable=True))
    budget_currency: str | None = Field(default=None, max_length=3)
    # The agreement commitment whose progress is this programme's quota use (computed, never typed).
    commitment_id: uuid.UUID | None = Field(default=None, foreign_key="commitment.id", nullable=True, index=True)
    # Department only until a coordinator shares it with its partners (cooperation/share.py); a partner's own is shared.
    shared: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class ProgrammeInstitution(SQLModel, table=True):
    __tablename__ = "programme_institution"
    __table_args__ = (UniqueConstraint("programme_id", "institution_id", name="uq_programme_institution"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    programme_id: uuid.UUID = Field(foreign_key="programme.id", index=True)
    institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)


class ProgrammeQuota(SQLModel, table=True):
    """At most `max_per_year` exchanges a year in one direction (relative to the home institution), optionally per field."""

    __tablename__ = "programme_quota"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    programme_id: uuid.UUID = Field(foreign_key="programme.id", index=True)
    direction: str = Field(max_length=10)  # incoming / outgoing
    field_of_work: str | None = Field(default=None, max_length=200)
    max_per_year: int
    position: int = 0


class DigitizationProject(RecordBase, table=True):
    """A shared digitization project, such as the platform for ancient books led by the National Library of China."""

    __tablename__ = "digitization_project"

    name: str = Field(max_length=300)
    name_native: str | None = Field(default=None, max_length=300)
    lead_institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    starts_on: date
    ends_on: date | None = None
    platform_url: str | None = Field(default=None, max_length=500)
    status: str = Field(default="active", max_length=20, index=True)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # Name and description in other languages: {"vi": {"title": …, "summary": …}} (cooperation/versions.py).
    translations: dict[str, dict[str, str]] = Field(default_factory=dict, sa_type=JSON, sa_column_kwargs={"server_default": text("'{}'")})
    # Institutions in the consortium (including those not registered here) and where they are, as the project states it.
    consortium_size: int | None = None
    consortium_area: str | None = Field(default=None, max_length=200)
    target_titles: int | None = None
    target_volumes: int | None = None
    target_images: int | None = None
    stale_after_days: int = 60
    commitment_id: uuid.UUID | None = Field(default=None, foreign_key="commitment.id", nullable=True, index=True)
    commitment_unit: str | None = Field(default=None, max_length=10)  # titles / volumes / images
    public: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})  # proposed for the public portal
    # Its progress reaches the portal only once a coordinator published it: waiting, published, kept (internal).
    progress_publication: str = Field(default="waiting", max_length=12, sa_column_kwargs={"server_default": text("'waiting'")})
    # Department only until a coordinator shares it with its partners (cooperation/share.py); a partner's own is shared.
    shared: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class ProjectAgreement(SQLModel, table=True):
    __tablename__ = "project_agreement"
    __table_args__ = (UniqueConstraint("project_id", "agreement_id", name="uq_project_agreement"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="digitization_project.id", index=True)
    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", index=True)


class ProjectParticipant(SQLModel, table=True):
    __tablename__ = "project_participant"
    __table_args__ = (UniqueConstraint("project_id", "institution_id", name="uq_project_participant"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="digitization_project.id", index=True)
    institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    role: str = Field(max_length=30)  # lead / contributor / technical_partner / observer
    target_titles: int | None = None
    target_volumes: int | None = None
    target_images: int | None = None
    position: int = 0


class ProjectMilestone(SQLModel, table=True):
    __tablename__ = "project_milestone"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="digitization_project.id", index=True)
    title: str = Field(max_length=300)
    due_on: date
    done_on: date | None = None
    position: int = 0


class ProgressReport(SQLModel, table=True):
    """A participant's cumulative counts as of a date. One per institution and date; a lower figure carries a note."""

    __tablename__ = "progress_report"
    __table_args__ = (
        UniqueConstraint("project_id", "institution_id", "as_of", name="uq_progress_report"),
        Index("ix_progress_report_project_as_of", "project_id", "as_of"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="digitization_project.id")
    institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    as_of: date
    titles: int | None = None
    volumes: int | None = None
    images: int | None = None
    correction_note: str | None = Field(default=None, max_length=1000)
    # Who reads the note (access.Audience), and the institution of whoever wrote it (None: the department's staff): a
    # participant's own note is read by the department and that participant, never by the project's other partners.
    note_audience: str = Field(default="department", max_length=20, sa_column_kwargs={"server_default": text("'department'")})
    note_institution_id: uuid.UUID | None = Field(default=None, foreign_key="institution.id", nullable=True)
    source: str = Field(max_length=10)  # page / api / csv
    reported_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", nullable=True)
    reported_by_name: str = Field(max_length=200)
    reported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class HarvestSource(SQLModel, table=True):
    """A participant's IIIF Change Discovery endpoint (API 1.0: an Activity Streams OrderedCollection of Create, Update
    and Delete activities on IIIF manifests), harvested for its progress (programs/harvest_services.py). Holds where the
    last harvest stopped, so the next one resumes there, and what it found."""

    __tablename__ = "harvest_source"
    __table_args__ = (UniqueConstraint("project_id", "institution_id", name="uq_harvest_source"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="digitization_project.id", index=True)
    institution_id: uuid.UUID = Field(foreign_key="institution.id")
    endpoint: str = Field(max_length=500)
    manifests_as: str = Field(default="volumes", max_length=10)  # what a manifest counts as: titles / volumes
    count_canvases: bool = False  # also fetch each manifest and count its canvases as images
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # A walk left unfinished (its budget spent): the page it goes on from, going back towards older pages, how many
    # of that page's activities (counted from its newest) were read, and the newest activity the walk has seen.
    resume_page: str | None = Field(default=None, max_length=1000)
    resume_index: int = 0
    walk_newest: str | None = Field(default=None, max_length=40)
    running_since: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)  # a harvest's claim
    last_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    last_status: str | None = Field(default=None, max_length=10)  # complete / partial / failed
    last_error: str | None = Field(default=None, max_length=1000)
    last_pages: int = 0
    last_activities: int = 0
    last_bytes: int = 0
    manifests: int = 0
    canvases: int = 0
    # endTime of the newest activity of the last finished walk: the next walk stops at it (all before is known)
    newest_activity: str | None = Field(default=None, max_length=40)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)  # no longer harvested


class HarvestedManifest(SQLModel, table=True):
    """A manifest an endpoint announced: present until a Delete (or the origin of a Move) says otherwise."""

    __tablename__ = "harvested_manifest"
    __table_args__ = (UniqueConstraint("source_id", "url", name="uq_harvested_manifest"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    source_id: uuid.UUID = Field(foreign_key="harvest_source.id", index=True)
    url: str = Field(max_length=1000)
    present: bool = True
    canvases: int | None = None
    changed_at: str | None = Field(default=None, max_length=40)  # endTime of the last activity on it
