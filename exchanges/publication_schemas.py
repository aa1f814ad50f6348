"""Input and output shapes for the exchange of publications: arrangements, shipments and their items, the balance."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import msgspec

from cooperation import i18n
from cooperation.i18n import N_
from cooperation.records import PageBase

Text = Annotated[str, msgspec.Meta(max_length=500)]


class Basis(StrEnum):
    BLANKET = "blanket"  # everything in scope is sent as it appears
    SELECTIVE = "selective"  # titles chosen from lists


class ArrangementStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    STOPPED = "stopped"


class RequestedBy(StrEnum):
    OUR_REQUEST = "our_request"
    PARTNER_REQUEST = "partner_request"


class PublicationFormat(StrEnum):
    PRINT = "print"
    MICROFORM = "microform"
    DIGITAL = "digital"
    AUDIOVISUAL = "audiovisual"


class ShipmentDirection(StrEnum):
    SENT = "sent"
    RECEIVED = "received"


class ShipmentStatus(StrEnum):
    SENT = "sent"  # left the sender
    RECEIVED = "received"  # arrived
    ACKNOWLEDGED = "acknowledged"  # its receipt confirmed to the sender
    MISSING = "missing"  # never arrived


# Where a shipment may go next: a lost parcel may turn up; an acknowledged one is settled.
SHIPMENT_TRANSITIONS = {
    ShipmentStatus.SENT: (ShipmentStatus.RECEIVED, ShipmentStatus.ACKNOWLEDGED, ShipmentStatus.MISSING),
    ShipmentStatus.RECEIVED: (ShipmentStatus.ACKNOWLEDGED, ShipmentStatus.MISSING),
    ShipmentStatus.MISSING: (ShipmentStatus.RECEIVED, ShipmentStatus.ACKNOWLEDGED),
    ShipmentStatus.ACKNOWLEDGED: (),
}


class ItemCategory(StrEnum):
    """What the yearly report counts items by (the categories of the 1958 conventions' annual reports)."""

    MONOGRAPH = "monograph"
    SERIAL = "serial"  # an issue of a periodical
    OFFICIAL = "official"  # an official publication or government document
    MAP = "map"
    AUDIOVISUAL = "audiovisual"
    DIGITAL = "digital"
    OTHER = "other"


i18n.register_labels(
    {
        "blanket": N_("Blanket"),
        "selective": N_("Selective"),
        "stopped": N_("Stopped"),
        "our_request": N_("At our request"),
        "partner_request": N_("At the partner's request"),
        "print": N_("Print"),
        "microform": N_("Microform"),
        "audiovisual": N_("Audiovisual"),
        "acknowledged": N_("Acknowledged"),
        "missing": N_("Missing"),
        "monograph": N_("Monograph"),
        "serial": N_("Serial issue"),
        "official": N_("Official publication"),
        "map": N_("Map"),
        "digital": N_("Digital"),
        "publications": N_("Exchange of publications: yearly report"),
    }
)


class ArrangementIn(msgspec.Struct, forbid_unknown_fields=True):
    partner_institution_id: uuid.UUID
    agreement_id: uuid.UUID
    basis: Basis
    commitment_id: uuid.UUID | None = None
    series: Text | None = None
    subjects: Text | None = None
    formats: list[PublicationFormat] = []
    review_on: date | None = None
    notes: Annotated[str, msgspec.Meta(max_length=20000)] = ""


class ArrangementUpdate(ArrangementIn, forbid_unknown_fields=True):
    version: int = 0


class ArrangementStatusIn(msgspec.Struct, forbid_unknown_fields=True):
    status: ArrangementStatus
    version: int
    requested_by: RequestedBy | None = None
    on: date | None = None
    note: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class ItemIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    identifier: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    category: ItemCategory = ItemCategory.MONOGRAPH
    copies: int = 1  # 1 to 100,000 (the service says which row is wrong, with the other rules)
    value: Decimal | None = None
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)] | None = None


class ShipmentIn(msgspec.Struct, forbid_unknown_fields=True):
    direction: ShipmentDirection
    shipped_on: date
    partner_institution_id: uuid.UUID | None = None  # taken from the arrangement when there is one
    arrangement_id: uuid.UUID | None = None
    reference: Annotated[str, msgspec.Meta(max_length=60)] | None = None
    carrier: Annotated[str, msgspec.Meta(max_length=120)] | None = None
    tracking_number: Annotated[str, msgspec.Meta(max_length=120)] | None = None
    customs_document: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    items: list[ItemIn] = []


class ShipmentUpdate(ShipmentIn, forbid_unknown_fields=True):
    version: int = 0


class ShipmentStatusIn(msgspec.Struct, forbid_unknown_fields=True):
    status: ShipmentStatus
    version: int
    on: date | None = None


class ArrangementRow(msgspec.Struct):
    id: uuid.UUID
    partner_institution_id: uuid.UUID
    partner_code: str
    partner_name: str
    agreement_reference: str | None
    basis: str
    status: str
    review_on: date | None


class ItemOut(msgspec.Struct):
    title: str
    identifier: str | None
    category: str
    copies: int
    value: Decimal | None
    currency: str | None


class ShipmentRow(msgspec.Struct):
    id: uuid.UUID
    shipped_on: date
    direction: str
    partner_institution_id: uuid.UUID
    partner_code: str
    reference: str | None
    status: str
    titles: int
    copies: int


class ShipmentPage(PageBase, kw_only=True):
    items: list[ShipmentRow]


class ShipmentOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    direction: str
    shipped_on: date
    partner_institution_id: uuid.UUID
    partner_code: str
    partner_name: str
    arrangement_id: uuid.UUID | None
    reference: str | None
    carrier: str | None
    tracking_number: str | None
    customs_document: str | None
    status: str
    status_on: date | None
    note: str | None
    items: list[ItemOut]
    copies: int
    values: dict[str, Decimal]  # estimated value by currency
    allowed_transitions: list[str]
    may_edit: bool
    may_acknowledge: bool
    archived: bool
    version: int
    updated_at: datetime


class YearCount(msgspec.Struct):
    year: int
    sent: int
    received: int


class Balance(msgspec.Struct, kw_only=True):
    """One partner's exchange in a year, items counted by copies, values by currency."""

    partner_institution_id: uuid.UUID
    partner_code: str
    partner_name: str
    arrangement_id: uuid.UUID | None
    arrangement_status: str | None
    sent: int
    received: int
    sent_value: dict[str, Decimal]
    received_value: dict[str, Decimal]
    trend: list[YearCount]  # the five years up to the one asked, oldest first
    last_received_on: date | None
    far_off: bool  # one side sends more than twice what it receives (and at least 20 items)
    silent: bool  # an active arrangement and nothing received for a year


class ArrangementOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    partner_institution_id: uuid.UUID
    partner_code: str
    partner_name: str
    agreement_id: uuid.UUID
    agreement_reference: str | None
    agreement_title: str | None
    commitment_id: uuid.UUID | None
    commitment_text: str | None
    basis: str
    series: str | None
    subjects: str | None
    formats: list[str]
    review_on: date | None
    status: str
    status_requested_by: str | None
    status_changed_on: date | None
    status_note: str | None
    notes: str
    balance: Balance | None
    archived: bool
    version: int
    updated_at: datetime
