"""The access policy, in one place. Services apply it as query filters and checks.

- admin: configures, and reads/writes everything; coordinator: reads/writes everything;
- director: reads everything, changes nothing but their own report subscriptions;
- partner: reads only records its institution takes part in that are not internal,
  and changes only its own institution's part.
Records a person may not see answer 404 (NotFoundError), never 403, so existence does not leak.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, false, literal, or_, select, true
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table

from cooperation import i18n
from cooperation.errors import ForbiddenError, ValidationFailed
from cooperation.i18n import N_


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    DIRECTOR = "director"
    PARTNER = "partner"


ROLE_LABELS = {
    Role.ADMIN: N_("Administrator"),
    Role.COORDINATOR: N_("Coordinator"),
    Role.DIRECTOR: N_("Director"),
    Role.PARTNER: N_("Partner librarian"),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in person as every service sees them."""

    user_id: uuid.UUID
    name: str
    email: str
    role: Role
    institution_id: uuid.UUID | None
    time_zone: str = "UTC"
    via_token: bool = False
    enroll_only: bool = False  # an administrator who must set up two-factor sign-in before anything else
    language: str = "en"  # the interface language they chose (i18n.py)
    system: bool = False  # not a person but the software itself (a harvest): no account stands behind what it records
    # A coordinator or administrator viewing pages as a partner institution sees them: this principal is that
    # partner's (role, institution), every rule answers as for them, and nothing can be written. The label names it.
    viewing_as: str | None = None

    @property
    def reads_everything(self) -> bool:
        return self.role in (Role.ADMIN, Role.COORDINATOR, Role.DIRECTOR)

    @property
    def manages_records(self) -> bool:
        return self.role in (Role.ADMIN, Role.COORDINATOR)

    @property
    def is_partner(self) -> bool:
        return self.role is Role.PARTNER

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


OPERATOR_ID = uuid.UUID(int=1)


def operator() -> Principal:
    """Whoever runs a `coop` command on the server: an administrator with no account (audited by that name)."""
    return Principal(user_id=OPERATOR_ID, name="operator (coop command)", email="", role=Role.ADMIN, institution_id=None)


def portal_reader() -> Principal:
    """Who reads a record for the public portal (cooperation/portal.py) once its section has found it public: it is
    read whole, as the department reads it. Never use it to find records: only to read one already known public."""
    return Principal(user_id=uuid.UUID(int=2), name="public portal", email="", role=Role.DIRECTOR, institution_id=None)


def harvester() -> Principal:
    """Who records the progress a scheduled harvest found (programs/harvest_services.py): the software, acting for the
    participant whose endpoint it read; it may record that participant's figures and nothing else is asked of it."""
    return Principal(user_id=uuid.UUID(int=3), name="IIIF harvest", email="", role=Role.COORDINATOR, institution_id=None, system=True)


def partner_reader(institution_id: uuid.UUID) -> Principal:
    """What a partner librarian of this institution may see: for checks made on its behalf (may it be named
    responsible for an action on this record?)."""
    return Principal(user_id=uuid.UUID(int=0), name="", email="", role=Role.PARTNER, institution_id=institution_id)


def require_manager(principal: Principal, action: str = N_("change records")) -> None:
    """`action` is marked N_ where it is written ("renew agreements") and said in the reader's language here."""
    if not principal.manages_records:
        role, doing = i18n.gettext(ROLE_LABELS[principal.role]), i18n.gettext(action)
        raise ForbiddenError(i18n.gettext("Your role (%(role)s) may not %(action)s.", role=role, action=doing))


def require_admin(principal: Principal, action: str = N_("do this")) -> None:
    if not principal.is_admin:
        raise ForbiddenError(i18n.gettext("Only an administrator may %(action)s.", action=i18n.gettext(action)))


def visible(
    principal: Principal,
    *,
    participants: Select[tuple[uuid.UUID]],
    internal: ColumnElement[bool] | None = None,
) -> ColumnElement[bool]:
    """WHERE clause for a record kind, given the ids of the institutions taking part in each record.

    `participants` is a correlated SELECT of institution ids for the outer row; `internal` is true
    for rows marked internal (never shown to partners).
    """
    if principal.reads_everything:
        return true()
    if principal.is_partner and principal.institution_id is not None:
        clause = principal_institution_in(principal, participants)
        return clause if internal is None else (clause & ~internal)
    return false()


def principal_institution_in(principal: Principal, participants: Select[tuple[uuid.UUID]]) -> ColumnElement[bool]:
    return literal(principal.institution_id).in_(participants.scalar_subquery())


def may_change_part_of(principal: Principal, institution_id: uuid.UUID | None) -> bool:
    """Coordinators change any party's part; a partner only its own institution's."""
    if principal.manages_records:
        return True
    return principal.is_partner and institution_id is not None and institution_id == principal.institution_id


# ---- references: a record named on another record's page ----------------------------------------------------
#
# A visit names its agreement, a project its agreements, a commitment the visits that fulfil it, a follow-up or a
# document its record. Each reference is shown only to a reader who may see the record it names, by one rule: the
# record kinds below, each registered by its domain with the ids its reader may see (app.py wires them).

VisibleIds = Callable[[Principal], Select[Any]]  # the ids of the records of a kind this person may see, as a SELECT
_kinds: dict[str, VisibleIds] = {}


def register_kind(kind: str, visible_ids: VisibleIds) -> None:
    _kinds[kind] = visible_ids


def may_see(principal: Principal, kind: str, record_id: Any) -> ColumnElement[bool]:
    """SQL: the record of `kind` whose id is `record_id` (a column or a value) is one this person may see. A kind no
    domain registered is seen by nobody but staff (default deny)."""
    if principal.reads_everything:
        return true()
    visible_ids = _kinds.get(kind)
    if visible_ids is None or not principal.is_partner:
        return false()
    column = record_id if isinstance(record_id, ColumnElement) else literal(record_id)
    return column.in_(visible_ids(principal).scalar_subquery())


def may_see_any(principal: Principal, kind: Any, record_id: Any) -> ColumnElement[bool]:
    """SQL: as `may_see`, for rows that name a record of any kind (`kind` and `record_id` columns: an attachment's
    owner, a follow-up's record, a commitment's linked record)."""
    if principal.reads_everything:
        return true()
    return or_(false(), *(and_(kind == name, may_see(principal, name, record_id)) for name in _kinds))


def named(principal: Principal, kind: str, record_id: Any, value: Any) -> Any:
    """SQL: `value` (a reference, a title, the id itself) when this person may see the record it belongs to, else
    NULL — for a column select that names another record."""
    if principal.reads_everything:
        return value
    return case((may_see(principal, kind, record_id), value), else_=None)


async def seen(session: Any, principal: Principal, kind: str, record_ids: Any) -> set[Any]:
    """Of these record ids, those this person may see (one query; everything for staff)."""
    ids = {i for i in record_ids if i is not None}
    if not ids or principal.reads_everything:
        return ids
    visible_ids = _kinds.get(kind)
    if visible_ids is None or not principal.is_partner:
        return set()
    subquery = visible_ids(principal).subquery()
    column = next(iter(subquery.c))
    return set(await session.scalars(select(column).where(column.in_(ids))))


# ---- pieces: what people write or upload inside a record ---------------------------------------------------
#
# A comment, document or photo has an audience of its own, inside the record that holds it: the department
# (the home institution's staff), the department and the record's partners, or the public. A partner's own
# contributions (institution_id is theirs) are shared with the department and that institution only — never with
# another partner of the same record. Readers of a piece have already been found to see its record.


class Audience(StrEnum):
    DEPARTMENT = "department"
    PARTNERS = "partners"
    PUBLIC = "public"


def piece_visible(principal: Principal, audience: Any, institution_id: Any) -> ColumnElement[bool]:
    """SQL: this person may read a piece with this audience, written by someone of `institution_id` (a column, whose
    NULL means staff; or None for pieces only staff write: a visit's outcomes and agenda notes)."""
    if principal.reads_everything:
        return true()
    if not principal.is_partner or principal.institution_id is None:
        return false()
    if institution_id is None:
        return audience.in_([Audience.PUBLIC.value, Audience.PARTNERS.value])  # type: ignore[no-any-return]
    # Shared pieces reach this partner unless another partner wrote them (staff's carry the home institution or none).
    home = select(_institution.c.id).where(_institution.c.is_home.is_(True)).scalar_subquery()
    not_another_partners = or_(institution_id.is_(None), institution_id == principal.institution_id, institution_id == home)
    return or_(audience == Audience.PUBLIC.value, and_(audience == Audience.PARTNERS.value, not_another_partners))


_institution = sql_table("institution", sql_column("id"), sql_column("is_home"))  # named, not imported: models depend on this module


def piece_audience(principal: Principal, chosen: str | None) -> Audience:
    """The audience of a new piece as its writer chose it, or the narrowest that fits them: the department for staff;
    for a partner, the department and their own institution (a partner cannot hide its words from the department).
    Nothing is public as it is written: only a coordinator's publication makes it so."""
    if chosen not in (None, "", Audience.DEPARTMENT.value, Audience.PARTNERS.value):
        raise ValidationFailed({"audience": i18n.gettext("choose the department only or shared with the partners")})
    if principal.is_partner:
        return Audience.PARTNERS
    return Audience.PARTNERS if chosen == Audience.PARTNERS.value else Audience.DEPARTMENT


def shared_on_creation(principal: Principal, asked: bool | None) -> bool:
    """A new record is the department's own until a coordinator shares it with the partners taking part (asked, or
    later with cooperation/share.py); what a partner proposes is shared with its institution from the start."""
    return principal.is_partner or bool(asked)
