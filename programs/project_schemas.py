"""Input and output shapes for shared digitization projects and their progress reports."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

import msgspec

from cooperation import i18n
from cooperation.i18n import N_
from cooperation.records import PageBase
from cooperation.versions import Versions

Count = Annotated[int, msgspec.Meta(ge=0, le=2_000_000_000)]
UNITS = ("titles", "volumes", "images")


class ProjectStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    COMPLETED = "completed"


class ParticipantRole(StrEnum):
    LEAD = "lead"
    CONTRIBUTOR = "contributor"
    TECHNICAL_PARTNER = "technical_partner"
    OBSERVER = "observer"


class Unit(StrEnum):
    TITLES = "titles"
    VOLUMES = "volumes"
    IMAGES = "images"


i18n.register_labels(
    {
        "planned": N_("Planned"),
        "active": N_("Active"),
        "suspended": N_("Suspended"),
        "completed": N_("Completed"),
        "lead": N_("Lead"),
        "contributor": N_("Contributor"),
        "technical_partner": N_("Technical partner"),
        "observer": N_("Observer"),
        "titles": N_("Titles"),
        "volumes": N_("Volumes"),
        "images": N_("Images"),
    }
)


class ProjectParticipantIn(msgspec.Struct, forbid_unknown_fields=True):
    institution_id: uuid.UUID
    role: ParticipantRole = ParticipantRole.CONTRIBUTOR
    target_titles: Count | None = None
    target_volumes: Count | None = None
    target_images: Count | None = None


class MilestoneIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    due_on: date
    done_on: date | None = None


class ProjectIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    lead_institution_id: uuid.UUID
    starts_on: date
    participants: list[ProjectParticipantIn] = []
    name_native: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    ends_on: date | None = None
    platform_url: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    status: ProjectStatus = ProjectStatus.ACTIVE
    description: Annotated[str, msgspec.Meta(max_length=20000)] = ""
    translations: Versions = {}  # name ("title") and description ("summary") in other languages
    consortium_size: Annotated[int, msgspec.Meta(ge=1, le=100000)] | None = None
    consortium_area: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    target_titles: Count | None = None
    target_volumes: Count | None = None
    target_images: Count | None = None
    stale_after_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 60
    public: bool = False  # its progress on the public portal (COOP_PORTAL)
    # Created department only (a partner's own proposal is its institution's too); true shares it with the partners
    # taking part, as the page's "Share with the partners" does. Leaving it out changes nothing.
    shared: bool | None = None
    agreement_ids: list[uuid.UUID] = []
    milestones: list[MilestoneIn] = []
    commitment_id: uuid.UUID | None = None  # an agreement commitment measured by this project's progress
    commitment_unit: Unit | None = None


class ProjectUpdate(ProjectIn, forbid_unknown_fields=True):
    version: int = 0


class ProgressIn(msgspec.Struct, forbid_unknown_fields=True):
    """Cumulative counts as of a date. A figure lower than an earlier report needs a correction note."""

    institution_id: uuid.UUID
    as_of: date
    titles: Count | None = None
    volumes: Count | None = None
    images: Count | None = None
    correction_note: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    # Who reads the note: left out, the narrowest that fits the writer (access.piece_audience).
    note_audience: Literal["department", "partners"] | None = None


class Counts(msgspec.Struct):
    titles: int | None
    volumes: int | None
    images: int | None


class ParticipantProgress(msgspec.Struct):
    institution_id: uuid.UUID
    code: str
    name: str
    name_native: str | None
    role: str
    target: Counts
    latest: Counts
    as_of: date | None
    reported_by: str | None
    reported_at: datetime | None
    percent: float | None  # of the target in the project's main unit
    stale: bool
    may_report: bool


class Milestone(msgspec.Struct):
    title: str
    due_on: date
    done_on: date | None
    state: str  # done / late / at_risk / on_track


class Forecast(msgspec.Struct):
    """Progress over the last 90 days in the main unit, and when the target is reached at that rate."""

    unit: str
    done: int
    target: int | None
    rate_per_day: float | None
    completion_on: date | None
    after_end: bool  # the implied date falls after the project's planned end


class SeriesPoint(msgspec.Struct):
    as_of: date
    titles: int
    volumes: int
    images: int


class ReportEntry(msgspec.Struct):
    institution_code: str
    as_of: date
    titles: int | None
    volumes: int | None
    images: int | None
    correction_note: str | None  # None too when the reader may not read it
    source: str
    reported_by_name: str
    reported_at: datetime
    note_audience: str = "department"
    note_institution_id: uuid.UUID | None = None  # whose own note it is (None: the department's)


class AgreementRef(msgspec.Struct):
    id: uuid.UUID
    reference: str
    title: str


class ProjectOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    name_native: str | None
    lead_institution_id: uuid.UUID
    lead_code: str
    lead_name: str
    starts_on: date
    ends_on: date | None
    platform_url: str | None
    status: str
    description: str
    translations: dict[str, dict[str, str]]
    consortium_size: int | None
    consortium_area: str | None
    target: Counts  # the project's own targets, or the sum of its participants' where it sets none
    own_target: Counts  # the project's own targets only (what its form holds)
    stale_after_days: int
    commitment_id: uuid.UUID | None
    commitment_unit: str | None
    public: bool
    main_unit: str
    total: Counts
    percent: float | None
    participants: list[ParticipantProgress]
    milestones: list[Milestone]
    agreements: list[AgreementRef]
    forecast: Forecast
    series: list[SeriesPoint]  # totals at each reported date, for charts
    recent_reports: list[ReportEntry]  # who reported what, and when (newest first)
    risks: list[str]  # late milestones, a forecast past the end, stale participants; empty when on track
    version: int
    archived: bool


class ProjectRow(msgspec.Struct):
    id: uuid.UUID
    name: str
    name_native: str | None
    lead_code: str
    status: str
    starts_on: date
    ends_on: date | None
    translations: dict[str, dict[str, str]] | None = None


class ProjectPage(PageBase):
    items: list[ProjectRow]
