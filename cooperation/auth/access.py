"""The access policy, in one place. Services apply it as query filters and checks.

- admin: configures, and reads/writes everything; coordinator: reads/writes everything;
- director: reads everything, changes nothing but their own report subscriptions;
- partner: reads only records its institution takes part in that are not internal,
  and changes only its own institution's part.
Records a person may not see answer 404 (NotFoundError), never 403, so existence does not leak.
"""

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, false, true

from cooperation.errors import ForbiddenError


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    DIRECTOR = "director"
    PARTNER = "partner"


ROLE_LABELS = {
    Role.ADMIN: "Administrator",
    Role.COORDINATOR: "Coordinator",
    Role.DIRECTOR: "Director",
    Role.PARTNER: "Partner librarian",
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


def partner_reader(institution_id: uuid.UUID) -> Principal:
    """What a partner librarian of this institution may see: for checks made on its behalf (may it be named
    responsible for an action on this record?)."""
    return Principal(user_id=uuid.UUID(int=0), name="", email="", role=Role.PARTNER, institution_id=institution_id)


def require_manager(principal: Principal, action: str = "change records") -> None:
    if not principal.manages_records:
        raise ForbiddenError(f"Your role ({ROLE_LABELS[principal.role]}) may not {action}.")


def require_admin(principal: Principal, action: str = "do this") -> None:
    if not principal.is_admin:
        raise ForbiddenError(f"Only an administrator may {action}.")


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
    from sqlalchemy import literal

    return literal(principal.institution_id).in_(participants.scalar_subquery())


def may_change_part_of(principal: Principal, institution_id: uuid.UUID | None) -> bool:
    """Coordinators change any party's part; a partner only its own institution's."""
    if principal.manages_records:
        return True
    return principal.is_partner and institution_id is not None and institution_id == principal.institution_id
