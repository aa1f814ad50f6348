"""Input and output shapes for agreements (never table models)."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import msgspec

from cooperation import i18n
from cooperation.i18n import N_
from cooperation.records import PageBase
from cooperation.versions import Versions


class AgreementKind(StrEnum):
    MEMORANDUM_OF_UNDERSTANDING = "memorandum_of_understanding"
    COOPERATION_AGREEMENT = "cooperation_agreement"
    EXCHANGE_OF_PUBLICATIONS = "exchange_of_publications"
    DIGITIZATION = "digitization"
    STAFF_EXCHANGE = "staff_exchange"
    ADDENDUM = "addendum"
    OTHER = "other"


class AgreementStatus(StrEnum):
    DRAFT = "draft"
    NEGOTIATING = "negotiating"
    SIGNED = "signed"
    IN_FORCE = "in_force"
    EXPIRED = "expired"
    TERMINATED = "terminated"
    SUPERSEDED = "superseded"


class Confidentiality(StrEnum):
    INTERNAL = "internal"  # the home institution's staff only
    PARTIES = "parties"  # staff and the partner parties
    PUBLIC = "public"  # may be published


class CommitmentStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    AT_RISK = "at_risk"
    DONE = "done"
    CANCELLED = "cancelled"


class AgreementView(StrEnum):
    ALL = "all"
    IN_FORCE = "in_force"
    EXPIRING = "expiring"
    EXPIRED_NOT_RENEWED = "expired_not_renewed"


i18n.register_labels(
    {
        "memorandum_of_understanding": N_("Memorandum of understanding"),
        "cooperation_agreement": N_("Cooperation agreement"),
        "exchange_of_publications": N_("Exchange of publications"),
        "digitization": N_("Digitization"),
        "staff_exchange": N_("Staff exchange"),
        "addendum": N_("Addendum"),
        "other": N_("Other"),
        "draft": N_("Draft"),
        "negotiating": N_("Negotiating"),
        "signed": N_("Signed"),
        "in_force": N_("In force"),
        "expired": N_("Expired"),
        "terminated": N_("Terminated"),
        "superseded": N_("Superseded"),
        "internal": N_("Internal"),
        "parties": N_("Parties"),
        "public": N_("Public"),
        "planned": N_("Planned"),
        "in_progress": N_("In progress"),
        "at_risk": N_("At risk"),
        "done": N_("Done"),
        "cancelled": N_("Cancelled"),
        "met": N_("Met"),
        "on_track": N_("On track"),
        "behind": N_("Behind"),
    }
)


Name = Annotated[str, msgspec.Meta(max_length=200)]


class PartyIn(msgspec.Struct, forbid_unknown_fields=True):
    institution_id: uuid.UUID
    signatory_name: Name | None = None
    signatory_title: Name | None = None
    signed_on: date | None = None


class AgreementIn(msgspec.Struct, forbid_unknown_fields=True):
    reference: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=400)]
    kind: AgreementKind
    parties: list[PartyIn]
    title_native: Annotated[str, msgspec.Meta(max_length=400)] | None = None
    summary: Annotated[str, msgspec.Meta(max_length=20000)] = ""
    scope_tags: list[Annotated[str, msgspec.Meta(min_length=1, max_length=60)]] = []
    signed_on: date | None = None
    effective_on: date | None = None
    expires_on: date | None = None
    auto_renew: bool = False
    renewal_term_months: Annotated[int, msgspec.Meta(ge=1, le=240)] | None = None
    notice_period_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] | None = None
    # On creation: internal (our staff only) until a coordinator shares it; on an update, unchanged when left out.
    confidentiality: Confidentiality | None = None
    translations: Versions = {}
    # "In case of divergence the Chinese text prevails": the language code of that text (vi, zh, fr, en…), if any.
    prevailing_language: Annotated[str, msgspec.Meta(max_length=8)] | None = None
    # Where a new agreement stands now (read on creation: an agreement signed months ago is recorded in force in one
    # save, its dates checked as its transitions check them); left out: draft. Later changes are transitions.
    status: Literal["draft", "negotiating", "signed", "in_force"] | None = None


class AgreementUpdate(AgreementIn, forbid_unknown_fields=True):
    version: int = 0


class TransitionIn(msgspec.Struct, forbid_unknown_fields=True):
    to: AgreementStatus
    version: int
    note: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class PartyUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """A party's own part: who signs for it and when."""

    signatory_name: Name | None = None
    signatory_title: Name | None = None
    signed_on: date | None = None


class CommitmentIn(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    responsible_institution_id: uuid.UUID | None = None
    due_on: date | None = None
    yearly_target: Annotated[int, msgspec.Meta(ge=1)] | None = None
    unit: Annotated[str, msgspec.Meta(max_length=60)] | None = None
    status: CommitmentStatus = CommitmentStatus.PLANNED
    progress: Annotated[int, msgspec.Meta(ge=0, le=100)] = 0
    notes: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class CommitmentUpdate(CommitmentIn, forbid_unknown_fields=True):
    version: int = 0


class CommitmentProgressIn(msgspec.Struct, forbid_unknown_fields=True):
    status: CommitmentStatus
    progress: Annotated[int, msgspec.Meta(ge=0, le=100)]
    version: int
    notes: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class PartyOut(msgspec.Struct):
    institution_id: uuid.UUID
    code: str
    name: str
    name_native: str | None
    country: str
    is_home: bool
    signatory_name: str | None
    signatory_title: str | None
    signed_on: date | None


class CommitmentLinkOut(msgspec.Struct):
    record_type: str
    record_id: uuid.UUID
    label: str


class CommitmentChoice(msgspec.Struct):
    id: uuid.UUID
    agreement_id: uuid.UUID
    agreement_reference: str
    text: str


class CommitmentOut(msgspec.Struct):
    id: uuid.UUID
    agreement_id: uuid.UUID
    text: str
    responsible_institution_id: uuid.UUID | None
    responsible_code: str | None
    due_on: date | None
    yearly_target: int | None
    unit: str | None
    status: str
    progress: int
    notes: str | None
    version: int
    links: list[CommitmentLinkOut] = []
    may_update: bool = False
    measured_by: str | None = None  # progress computed from a programme or project, not typed
    measured_url: str | None = None
    measured_state: str | None = None  # met, on_track or behind; the status follows it


class AgreementRef(msgspec.Struct):
    id: uuid.UUID
    reference: str
    title: str
    status: str


class AgreementOut(msgspec.Struct):
    id: uuid.UUID
    reference: str
    title: str
    title_native: str | None
    kind: str
    summary: str
    scope_tags: list[str]
    status: str
    status_note: str | None
    signed_on: date | None
    effective_on: date | None
    expires_on: date | None
    notice_by: date | None
    auto_renew: bool
    renewal_term_months: int | None
    notice_period_days: int | None
    confidentiality: str
    archived: bool
    version: int
    created_at: datetime
    updated_at: datetime
    translations: dict[str, dict[str, str]]
    prevailing_language: str | None
    parties: list[PartyOut]
    commitments: list[CommitmentOut]
    predecessor: AgreementRef | None
    successors: list[AgreementRef]
    allowed_transitions: list[str]


class AgreementRow(msgspec.Struct):
    id: uuid.UUID
    reference: str
    title: str
    kind: str
    status: str
    signed_on: date | None
    effective_on: date | None
    expires_on: date | None
    confidentiality: str
    translations: dict[str, dict[str, str]] | None = None
    parties: list[str] = []


class AgreementPage(PageBase):
    items: list[AgreementRow]


class FieldChange(msgspec.Struct):
    field: str
    before: Any
    after: Any


class RenewalDiff(msgspec.Struct):
    predecessor: AgreementRef
    successor: AgreementRef
    fields: list[FieldChange]
    parties_added: list[str]
    parties_removed: list[str]
    commitments_added: list[str]
    commitments_removed: list[str]


class Reminder(msgspec.Struct):
    agreement_id: uuid.UUID
    reference: str
    title: str
    kind: str  # "notice" or "expiry"
    due_on: date
    days_left: int
