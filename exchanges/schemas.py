"""Input and output shapes for visits (never table models)."""

import uuid
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

import msgspec

from cooperation import i18n
from cooperation.i18n import N_
from cooperation.records import PageBase
from cooperation.versions import Versions

Short = Annotated[str, msgspec.Meta(max_length=300)]
# Who reads a piece written on the visit's form (access.Audience): the department, or also the visit's partners.
PieceAudience = Literal["department", "partners"]


class Direction(StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"


class VisitStatus(StrEnum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    UNDER_WAY = "under_way"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Side(StrEnum):
    DELEGATION = "delegation"
    HOST = "host"


class ParticipantRole(StrEnum):
    HEAD_OF_DELEGATION = "head_of_delegation"
    MEMBER = "member"
    INTERPRETER = "interpreter"
    CHAIR = "chair"
    PRESENTER = "presenter"
    PARTICIPANT = "participant"


class GiftDirection(StrEnum):
    GIVEN = "given"
    RECEIVED = "received"


i18n.register_labels(
    {
        "incoming": N_("Incoming"),
        "outgoing": N_("Outgoing"),
        "proposed": N_("Proposed"),
        "confirmed": N_("Confirmed"),
        "under_way": N_("Under way"),
        "completed": N_("Completed"),
        "cancelled": N_("Cancelled"),
        "delegation": N_("Delegation"),
        "host": N_("Host"),
        "head_of_delegation": N_("Head of delegation"),
        "member": N_("Member"),
        "interpreter": N_("Interpreter"),
        "chair": N_("Chair"),
        "presenter": N_("Presenter"),
        "participant": N_("Participant"),
        "given": N_("Given"),
        "received": N_("Received"),
    }
)


class NewPersonIn(msgspec.Struct, forbid_unknown_fields=True):
    """Someone not yet in the register, added with the visit (one step, one transaction)."""

    name: Annotated[str, msgspec.Meta(max_length=200)]
    name_native: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    position: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    department: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    institution_id: uuid.UUID | None = None  # the visiting institution for the delegation, the host's for hosts


class ParticipantIn(msgspec.Struct, forbid_unknown_fields=True):
    side: Side
    role: ParticipantRole
    person_id: uuid.UUID | None = None  # someone in the register, or:
    new_person: NewPersonIn | None = None
    position_at_time: Annotated[str, msgspec.Meta(max_length=200)] | None = None  # defaults to the person's current position
    department_at_time: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class AgendaItemIn(msgspec.Struct, forbid_unknown_fields=True):
    day: date
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    starts_at: time | None = None
    ends_at: time | None = None
    place: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    presenters: list[uuid.UUID] = []
    notes: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    notes_audience: PieceAudience = "department"
    # Presenters named rather than chosen (people typed into the same form have no id yet): matched by name among the
    # visit's people when it is saved.
    presenter_names: list[Annotated[str, msgspec.Meta(min_length=1, max_length=200)]] = []


class OutcomeIn(msgspec.Struct, forbid_unknown_fields=True):
    """Something agreed during the visit, and who reads it (a plain string is the department's only)."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    audience: PieceAudience = "department"


class GiftIn(msgspec.Struct, forbid_unknown_fields=True):
    """A gift row of the visit's form: an entry of the gift register (exchanges/gift_services.py), `id` once saved."""

    direction: GiftDirection
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    id: uuid.UUID | None = None


class VisitIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    direction: Direction
    host_institution_id: uuid.UUID
    visiting_institution_id: uuid.UUID
    starts_on: date
    ends_on: date
    city: Short | None = None
    venue: Short | None = None
    purpose: Annotated[str, msgspec.Meta(max_length=20000)] = ""
    theme: Short | None = None
    topics: list[Annotated[str, msgspec.Meta(min_length=1, max_length=60)]] = []
    agreement_id: uuid.UUID | None = None
    commitment_ids: list[uuid.UUID] = []
    budget_amount: Decimal | None = None
    budget_currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)] | None = None
    participants: list[ParticipantIn] = []
    agenda: list[AgendaItemIn] = []
    outcomes: list[OutcomeIn | Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]] = []
    gifts: list[GiftIn] = []
    report: Annotated[str, msgspec.Meta(max_length=50000)] = ""
    confirm_overlaps: bool = False  # a person in another visit at overlapping dates needs this to be saved
    public: bool = False  # on the public portal (COOP_PORTAL) once it is completed
    # Where a new visit stands (read on creation; later changes are transitions), such as "completed" for a visit
    # logged after the fact; left out: proposed. The page's form chooses as the dates say unless told otherwise.
    status: VisitStatus | None = None
    # Created department only (a partner's own proposal is its institution's too); true shares it with the partners
    # taking part, as the page's "Share with the partners" does. Leaving it out changes nothing.
    shared: bool | None = None
    translations: Versions = {}  # title and purpose ("summary") in other languages


class VisitUpdate(VisitIn, forbid_unknown_fields=True):
    version: int = 0


class DelegationMemberIn(msgspec.Struct, forbid_unknown_fields=True):
    person_id: uuid.UUID
    role: ParticipantRole = ParticipantRole.MEMBER
    position_at_time: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    department_at_time: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class DelegationIn(msgspec.Struct, forbid_unknown_fields=True):
    members: list[DelegationMemberIn]
    version: int


class VisitTransitionIn(msgspec.Struct, forbid_unknown_fields=True):
    to: VisitStatus
    version: int
    note: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class ParticipantOut(msgspec.Struct):
    person_id: uuid.UUID
    name: str
    name_native: str | None
    institution_code: str
    side: str
    role: str
    position_at_time: str | None
    department_at_time: str | None


class AgendaItemOut(msgspec.Struct):
    day: date
    starts_at: time | None
    ends_at: time | None
    place: str | None
    title: str
    presenters: list[str]  # names, as the summary prints them
    notes: str | None  # None too when the reader may not read them
    presenter_ids: list[uuid.UUID] = []
    notes_audience: str = "department"


class OutcomeOut(msgspec.Struct):
    text: str
    audience: str


class GiftOut(msgspec.Struct):
    direction: str
    description: str
    id: uuid.UUID | None = None  # its entry in the gift register


class AgreementLink(msgspec.Struct):
    id: uuid.UUID
    reference: str
    title: str
    status: str
    in_force_on_visit_dates: bool


class VisitOut(msgspec.Struct):
    id: uuid.UUID
    title: str
    direction: str
    host_institution_id: uuid.UUID
    host_code: str
    host_name: str
    host_name_native: str | None
    visiting_institution_id: uuid.UUID
    visiting_code: str
    visiting_name: str
    visiting_name_native: str | None
    starts_on: date
    ends_on: date
    days: int
    city: str | None
    venue: str | None
    purpose: str
    theme: str | None
    topics: list[str]
    translations: dict[str, dict[str, str]]
    status: str
    status_note: str | None
    agreement: AgreementLink | None
    commitment_ids: list[uuid.UUID]
    budget_amount: Decimal | None
    budget_currency: str | None
    participants: list[ParticipantOut]
    agenda: list[AgendaItemOut]
    outcomes: list[OutcomeOut]
    gifts: list[GiftOut]
    report: str
    public: bool
    warnings: list[str]
    allowed_transitions: list[str]
    archived: bool
    version: int
    created_at: datetime
    updated_at: datetime
    may_change_delegation: bool = False  # the visiting institution's partners and the department, until it is over


class VisitRow(msgspec.Struct):
    id: uuid.UUID
    title: str
    direction: str
    host_code: str
    visiting_code: str
    starts_on: date
    ends_on: date
    city: str | None
    status: str
    translations: dict[str, dict[str, str]] | None = None


class VisitPage(PageBase):
    items: list[VisitRow]
