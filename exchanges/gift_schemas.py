"""Input and output shapes for the protocol gift register."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import msgspec

from cooperation import i18n
from cooperation.i18n import N_
from cooperation.records import PageBase
from exchanges.schemas import GiftDirection

Short = Annotated[str, msgspec.Meta(max_length=200)]


class GiftDisposition(StrEnum):
    """Where a gift went: what public-sector gift rules ask every register to say."""

    RETAINED = "retained"  # kept for official use
    ON_DISPLAY = "on_display"
    IN_ARCHIVES = "in_archives"
    RETURNED = "returned"
    TRANSFERRED = "transferred"  # to another body (a museum, the ministry)
    DISPOSED = "disposed"  # of, after the rules allow it


class GiftValuation(StrEnum):
    """How the estimated value was set."""

    INVOICE = "invoice"  # the price paid, for a gift the library bought to give
    PUBLISHED_PRICE = "published_price"  # a catalogue or shop price
    APPRAISAL = "appraisal"  # by an expert
    ESTIMATE = "estimate"  # the officer's estimate


i18n.register_labels(
    {
        "retained": N_("Retained for official use"),
        "on_display": N_("On display"),
        "in_archives": N_("Kept in the archives"),
        "returned": N_("Returned"),
        "transferred": N_("Transferred"),
        "disposed": N_("Disposed of"),
        "invoice": N_("Invoice"),
        "published_price": N_("Published price"),
        "appraisal": N_("Appraisal"),
        "estimate": N_("Estimate"),
        "gifts": N_("Protocol gift register"),
    }
)


class GiftIn(msgspec.Struct, forbid_unknown_fields=True):
    """A register entry. With a visit, the date defaults to the visit's first day and the two institutions are the
    visit's; without one, `partner_institution_id` says who gave or received it."""

    direction: GiftDirection
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    visit_id: uuid.UUID | None = None
    partner_institution_id: uuid.UUID | None = None
    given_on: date | None = None
    giver_person_id: uuid.UUID | None = None
    recipient_person_id: uuid.UUID | None = None
    estimated_value: Decimal | None = None  # zero or more (checked by the service: msgspec bounds no Decimal)
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)] | None = None
    minimal_value: bool = False
    valuation: GiftValuation | None = None
    disposition: GiftDisposition | None = None
    custodian: Short | None = None
    location: Short | None = None
    disposition_on: date | None = None
    disposition_note: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    reciprocal_gift_id: uuid.UUID | None = None


class GiftUpdate(GiftIn, forbid_unknown_fields=True):
    version: int = 0


class GiftRow(msgspec.Struct):
    id: uuid.UUID
    given_on: date
    direction: str
    description: str
    giver_code: str
    recipient_code: str
    estimated_value: Decimal | None
    currency: str | None
    minimal_value: bool
    disposition: str | None
    visit_id: uuid.UUID | None
    visit_title: str | None


class GiftPage(PageBase, kw_only=True):
    items: list[GiftRow]


class GiftLink(msgspec.Struct):
    id: uuid.UUID
    direction: str
    description: str


class GiftOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    direction: str
    description: str
    given_on: date
    visit_id: uuid.UUID | None
    visit_title: str | None
    partner_institution_id: uuid.UUID
    giver_institution_id: uuid.UUID
    giver_institution: str
    giver_person_id: uuid.UUID | None
    giver_person: str | None
    recipient_institution_id: uuid.UUID
    recipient_institution: str
    recipient_person_id: uuid.UUID | None
    recipient_person: str | None
    estimated_value: Decimal | None
    currency: str | None
    minimal_value: bool
    valuation: str | None
    disposition: str | None
    custodian: str | None
    location: str | None
    disposition_on: date | None
    disposition_note: str | None
    reciprocal: GiftLink | None
    archived: bool
    version: int
    updated_at: datetime
