"""Delegation visits (incoming and outgoing): who came, who received them, the agenda, what was agreed."""

import uuid
from datetime import date, time
from decimal import Decimal

from sqlalchemy import JSON, Column, Numeric, Text, text
from sqlmodel import Field, SQLModel

from cooperation.db import new_id
from cooperation.records import RecordBase


class Visit(RecordBase, table=True):
    __tablename__ = "visit"

    title: str = Field(max_length=300)
    direction: str = Field(max_length=10)  # incoming / outgoing, relative to the home institution
    host_institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    visiting_institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    starts_on: date = Field(index=True)
    ends_on: date
    city: str | None = Field(default=None, max_length=120)
    venue: str | None = Field(default=None, max_length=300)
    purpose: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    theme: str | None = Field(default=None, max_length=300)
    topics: list[str] = Field(default_factory=list, sa_type=JSON)
    # Title and purpose in other languages: {"vi": {"title": …, "summary": …}} (cooperation/versions.py).
    translations: dict[str, dict[str, str]] = Field(default_factory=dict, sa_type=JSON, sa_column_kwargs={"server_default": text("'{}'")})
    status: str = Field(default="proposed", max_length=20, index=True)
    status_note: str | None = Field(default=None, max_length=1000)
    agreement_id: uuid.UUID | None = Field(default=None, foreign_key="agreement.id", nullable=True, index=True)
    commitment_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    budget_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2), nullable=True))
    budget_currency: str | None = Field(default=None, max_length=3)
    report: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    public: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})  # proposed for the public portal
    # The portal shows a public completed visit's summary only once a coordinator published it: waiting, published, kept.
    summary_publication: str = Field(default="waiting", max_length=12, sa_column_kwargs={"server_default": text("'waiting'")})
    # Department only until a coordinator shares it with its partners (cooperation/share.py); a partner's own is shared.
    shared: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class VisitParticipant(SQLModel, table=True):
    """A person in the visit, on the delegation's side or the host's, with their role and position at the time."""

    __tablename__ = "visit_participant"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    visit_id: uuid.UUID = Field(foreign_key="visit.id", index=True)
    person_id: uuid.UUID = Field(foreign_key="person.id", index=True)
    side: str = Field(max_length=10)  # delegation / host
    role: str = Field(max_length=30)
    position_at_time: str | None = Field(default=None, max_length=200)
    department_at_time: str | None = Field(default=None, max_length=200)
    position: int = 0


class AgendaItem(SQLModel, table=True):
    __tablename__ = "visit_agenda_item"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    visit_id: uuid.UUID = Field(foreign_key="visit.id", index=True)
    day: date
    starts_at: time | None = None
    ends_at: time | None = None
    place: str | None = Field(default=None, max_length=200)
    title: str = Field(max_length=300)
    presenters: list[str] = Field(default_factory=list, sa_type=JSON)  # participant person ids
    notes: str | None = Field(default=None, max_length=4000)
    # Who reads the notes (access.Audience); the session itself is read with its visit. The portal never shows notes.
    notes_audience: str = Field(default="department", max_length=20, sa_column_kwargs={"server_default": text("'department'")})
    position: int = 0


class VisitOutcome(SQLModel, table=True):
    __tablename__ = "visit_outcome"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    visit_id: uuid.UUID = Field(foreign_key="visit.id", index=True)
    text: str = Field(max_length=2000)
    # Who reads it (access.Audience): department only or shared with the visit's partners; a shared outcome is also on
    # the portal once a coordinator publishes the visit's summary. (A plain string default: `text` is a column here.)
    audience: str = Field(default="department", max_length=20, sa_column_kwargs={"server_default": "department"})
    position: int = 0


class Gift(RecordBase, table=True):
    """An entry of the protocol gift register: what was given or received, by whom, what it is worth, where it is now.

    A gift recorded with a visit takes its date and its two institutions from the visit; one given by post or at a
    conference stands alone. Ethics rules ask where every gift went, so a gift is never deleted: it is archived.
    """

    __tablename__ = "gift"

    visit_id: uuid.UUID | None = Field(default=None, foreign_key="visit.id", nullable=True, index=True)
    position: int = 0  # its place among the visit's gifts
    direction: str = Field(max_length=10)  # given / received, relative to the home institution
    given_on: date = Field(index=True)
    giver_institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    giver_person_id: uuid.UUID | None = Field(default=None, foreign_key="person.id", nullable=True)
    recipient_institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    recipient_person_id: uuid.UUID | None = Field(default=None, foreign_key="person.id", nullable=True)
    description: str = Field(max_length=1000)
    estimated_value: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2), nullable=True))
    currency: str | None = Field(default=None, max_length=3)
    minimal_value: bool = False
    valuation: str | None = Field(default=None, max_length=20)  # how the value was set (GiftValuation)
    disposition: str | None = Field(default=None, max_length=20, index=True)  # None: not decided yet
    custodian: str | None = Field(default=None, max_length=200)
    location: str | None = Field(default=None, max_length=200)
    disposition_on: date | None = None
    disposition_note: str | None = Field(default=None, max_length=1000)
    reciprocal_gift_id: uuid.UUID | None = Field(default=None, foreign_key="gift.id", nullable=True)
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class ExpertExchange(RecordBase, table=True):
    """One expert's stay at a partner library (either way), from proposal to the report at the end."""

    __tablename__ = "expert_exchange"

    expert_person_id: uuid.UUID = Field(foreign_key="person.id", index=True)
    home_institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    host_institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    starts_on: date = Field(index=True)
    ends_on: date
    field_of_work: str = Field(max_length=200)
    purpose: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: str = Field(default="proposed", max_length=20, index=True)
    status_note: str | None = Field(default=None, max_length=1000)
    expert_confirmed: bool = False
    agreement_id: uuid.UUID | None = Field(default=None, foreign_key="agreement.id", nullable=True)
    programme_id: uuid.UUID | None = Field(default=None, foreign_key="programme.id", nullable=True, index=True)
    funding: str | None = Field(default=None, max_length=300)
    funding_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2), nullable=True))
    funding_currency: str | None = Field(default=None, max_length=3)
    outcome: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # Department only until a coordinator shares it with its partners (cooperation/share.py); a partner's own is shared.
    shared: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class ExchangeArrangement(RecordBase, table=True):
    """The exchange of publications with one partner, under an agreement of kind "exchange of publications" (the
    UNESCO 1958 conventions; the IFLA guidelines): what is exchanged, and whether it still runs."""

    __tablename__ = "exchange_arrangement"

    partner_institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", index=True)
    commitment_id: uuid.UUID | None = Field(default=None, foreign_key="commitment.id", nullable=True)  # measured by shipments
    basis: str = Field(max_length=10)  # blanket (everything in scope) / selective (chosen titles)
    series: str | None = Field(default=None, max_length=500)
    subjects: str | None = Field(default=None, max_length=500)
    formats: list[str] = Field(default_factory=list, sa_type=JSON)
    review_on: date | None = None
    status: str = Field(default="active", max_length=10, index=True)  # active / suspended / stopped
    status_requested_by: str | None = Field(default=None, max_length=20)  # our_request / partner_request
    status_changed_on: date | None = None
    status_note: str | None = Field(default=None, max_length=1000)
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class Shipment(RecordBase, table=True):
    """One parcel (or one dispatch of several) of publications sent to or received from a partner."""

    __tablename__ = "shipment"

    partner_institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    arrangement_id: uuid.UUID | None = Field(default=None, foreign_key="exchange_arrangement.id", nullable=True, index=True)
    direction: str = Field(max_length=10)  # sent / received, relative to the home institution
    shipped_on: date = Field(index=True)  # the day it left (sent) or arrived (received)
    reference: str | None = Field(default=None, max_length=60)
    carrier: str | None = Field(default=None, max_length=120)
    tracking_number: str | None = Field(default=None, max_length=120)
    customs_document: str | None = Field(default=None, max_length=200)
    status: str = Field(default="sent", max_length=15, index=True)  # sent / received / acknowledged / missing
    status_on: date | None = None
    note: str | None = Field(default=None, max_length=2000)
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class ShipmentItem(SQLModel, table=True):
    """A publication in a shipment: counted per item (copies), never per parcel."""

    __tablename__ = "shipment_item"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    shipment_id: uuid.UUID = Field(foreign_key="shipment.id", index=True)
    position: int = 0
    title: str = Field(max_length=500)
    identifier: str | None = Field(default=None, max_length=40)  # ISBN or ISSN, as printed
    category: str = Field(default="monograph", max_length=20)
    copies: int = 1
    value: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2), nullable=True))
    currency: str | None = Field(default=None, max_length=3)
