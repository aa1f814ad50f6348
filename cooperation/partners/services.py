"""Every rule and every write for institutions and people."""

import asyncio
import base64
import hashlib
import io
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import filetype
import pycountry
from babel import Locale
from PIL import Image, UnidentifiedImageError
from sqlalchemy import Select, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit, files, i18n
from cooperation.auth.access import Principal, Role, may_change_part_of, require_admin, require_manager
from cooperation.auth.models import User
from cooperation.db import table
from cooperation.errors import ConflictError, ForbiddenError, NotFoundError, ValidationFailed
from cooperation.i18n import N_
from cooperation.partners.models import Institution, Person
from cooperation.partners.schemas import (
    AccountChoice,
    AccountLinkIn,
    InstitutionIn,
    InstitutionOut,
    InstitutionPage,
    InstitutionRow,
    InstitutionUpdate,
    PersonIn,
    PersonOut,
    PersonPage,
    PersonRow,
    PersonUpdate,
)
from cooperation.records import (
    ByName,
    changes_between,
    fetch_page,
    fold_for_search,
    nfc,
    order_by,
    row_to,
    search_terms,
    update_versioned,
)
from cooperation.settings import Settings

I = table(Institution).c  # noqa: E741
P = table(Person).c
U = table(User).c

# ISO 3166-1 countries (pycountry), named by CLDR (Babel): CLDR's own pseudo-regions ("Pseudo-Accents", "Unknown
# Region", "European Union") are not countries an institution is in.
COUNTRY_NAMES: dict[str, str] = {
    c.alpha_2: Locale("en").territories.get(c.alpha_2, c.name) for c in sorted(pycountry.countries, key=lambda c: c.alpha_2)
}

# Domains register here what "shares a record with" means for them (app.py wires it), so a partner
# sees its own institution and the institutions it works with, and no other.
SharedInstitutions = Callable[[uuid.UUID], Select[tuple[uuid.UUID]]]
_sharing_sources: list[SharedInstitutions] = []


def register_sharing_source(source: SharedInstitutions) -> None:
    if source not in _sharing_sources:
        _sharing_sources.append(source)


def institution_visibility(principal: Principal) -> Any:
    if principal.reads_everything:
        return true()
    if principal.is_partner and principal.institution_id is not None:
        clauses = [I.id == principal.institution_id]
        clauses += [I.id.in_(source(principal.institution_id)) for source in _sharing_sources]
        return or_(*clauses)
    return I.id.is_(None)


def country_name(code: str | None) -> str:
    return COUNTRY_NAMES.get(code or "", code or "")


def _clean_institution(data: InstitutionIn, errors: dict[str, str]) -> dict[str, Any]:
    """Normalised values, or ValidationFailed with every wrong field (including those already in `errors`)."""
    country = data.country.upper()
    if country not in COUNTRY_NAMES:
        errors["country"] = i18n.gettext("%(value)s is not an ISO 3166 country code (such as VN, CN, FR)", value=repr(data.country))
    website = (data.website or "").strip() or None
    if website and not website.startswith(("http://", "https://")):
        errors["website"] = i18n.gettext("must start with http:// or https://")
    if not data.name.strip():
        errors["name"] = i18n.gettext("is required")
    if errors:
        raise ValidationFailed(errors)
    values: dict[str, Any] = {
        "code": data.code.strip().upper(),
        "name": nfc(data.name.strip()),
        "name_native": nfc(data.name_native.strip()) if data.name_native and data.name_native.strip() else None,
        "country": country,
        "city": nfc(data.city.strip()) if data.city and data.city.strip() else None,
        "kind": data.kind.value,
        "website": website,
        "active": data.active,
    }
    values["search_text"] = fold_for_search(values["code"], values["name"], values["name_native"], values["city"])
    return values


_INSTITUTION_COLUMNS = (I.id, I.code, I.name, I.name_native, I.country, I.city, I.kind, I.is_home, I.active)
_INSTITUTION_SORTS = {"code": I.code, "name": ByName(I.name), "country": I.country, "city": I.city, "kind": I.kind}


async def list_institutions(
    session: AsyncSession,
    principal: Principal,
    *,
    page: int = 1,
    per_page: int = 25,
    sort: str | None = None,
    q: str | None = None,
    country: str | None = None,
    kind: str | None = None,
    active: bool | None = None,
    archived: bool = False,
) -> InstitutionPage:
    statement = select(*_INSTITUTION_COLUMNS).where(institution_visibility(principal))
    statement = statement.where(I.archived_at.is_not(None) if archived else I.archived_at.is_(None))
    for term in search_terms(q):
        statement = statement.where(I.search_text.contains(term, autoescape=True))
    if country:
        statement = statement.where(I.country == country.upper())
    if kind:
        statement = statement.where(I.kind == kind)
    if active is not None:
        statement = statement.where(I.active.is_(active))
    paged = await fetch_page(
        session, statement, page=page, per_page=per_page, order=order_by(sort, _INSTITUTION_SORTS, "code"), tiebreak=I.id
    )
    return InstitutionPage(
        items=[row_to(InstitutionRow, row) for row in paged.rows],
        total=paged.total,
        total_exact=paged.total_exact,
        page=page,
        per_page=per_page,
    )


async def institution_choices(session: AsyncSession, principal: Principal) -> list[InstitutionRow]:
    """Active institutions the person may see, for pickers in forms."""
    rows = await session.execute(
        select(*_INSTITUTION_COLUMNS).where(institution_visibility(principal), I.archived_at.is_(None)).order_by(I.is_home.desc(), I.code)
    )
    return [row_to(InstitutionRow, row) for row in rows]


async def get_institution(session: AsyncSession, principal: Principal, institution_id: uuid.UUID) -> InstitutionOut:
    row = (
        await session.execute(
            select(
                I.id,
                I.code,
                I.name,
                I.name_native,
                I.country,
                I.city,
                I.kind,
                I.website,
                I.is_home,
                I.active,
                I.archived_at.is_not(None),
                I.version,
                I.created_at,
                I.updated_at,
            ).where(I.id == institution_id, institution_visibility(principal))
        )
    ).first()
    if row is None:
        raise NotFoundError("institution")
    return row_to(InstitutionOut, row)


async def find_institution_by_code(session: AsyncSession, principal: Principal, code: str) -> InstitutionOut:
    institution_id = await session.scalar(select(I.id).where(I.code == code.upper()))
    if institution_id is None:
        raise NotFoundError("institution")
    return await get_institution(session, principal, institution_id)


async def home_institution_id(session: AsyncSession) -> uuid.UUID | None:
    return await session.scalar(select(I.id).where(I.is_home.is_(True)).limit(1))


async def home_institution_place(session: AsyncSession) -> tuple[uuid.UUID | None, str | None]:
    """The home institution's id and city: where an incoming visit takes place unless said otherwise."""
    row = (await session.execute(select(I.id, I.city).where(I.is_home.is_(True)).limit(1))).first()
    return (row.id, row.city) if row else (None, None)


async def create_home_institution(session: AsyncSession, data: InstitutionIn) -> uuid.UUID:
    """First run (cooperation/setup.py): the institution that runs LibCoop. An institution already registered with
    the code becomes it; otherwise it is created. The caller commits."""
    if await home_institution_id(session) is not None:
        raise ConflictError(i18n.gettext("A home institution exists already; an administrator changes it from its page."))
    existing = await session.scalar(select(I.id).where(I.code == data.code.strip().upper()))
    values = _clean_institution(data, {})
    if existing is not None:
        await session.execute(update(Institution).where(I.id == existing).values(is_home=True, version=I.version + 1))
        audit.record(session, None, "set_home", "institution", existing, summary=f"{values['code']} is the home institution")
        return existing
    institution = Institution(**values, is_home=True)
    session.add(institution)
    await session.flush()
    audit.record(session, None, "create", "institution", institution.id, summary=f"Registered {values['code']} as the home institution")
    return institution.id


LOGO_MAX_BYTES = 1024 * 1024
LOGO_TYPES = ("image/png", "image/jpeg")


async def set_logo(
    session: AsyncSession, principal: Principal, settings: Settings, institution_id: uuid.UUID, content: bytes | None
) -> None:
    """The home institution's logo for the cover of reports (PNG or JPEG up to 1 MB); `None` removes it."""
    require_admin(principal, N_("set the logo on reports"))
    institution = await get_institution(session, principal, institution_id)
    if not institution.is_home:
        raise ValidationFailed({"file": i18n.gettext("only the home institution's logo goes on reports")})
    values: dict[str, Any] = {"logo_sha256": None, "logo_type": None}
    if content is not None:
        kind = filetype.guess(content[:8192])
        if not content or kind is None or kind.mime not in LOGO_TYPES:
            raise ValidationFailed({"file": i18n.gettext("a logo is a PNG or JPEG image")})
        if len(content) > LOGO_MAX_BYTES:
            raise ValidationFailed({"file": i18n.gettext("a logo is at most 1 MB")})
        content = await asyncio.to_thread(_fit_logo, content)  # decoding must not stall other requests
        digest = hashlib.sha256(content).hexdigest()
        await files.storage(settings).put(digest, content)
        values = {"logo_sha256": digest, "logo_type": kind.mime}
    await session.execute(update(Institution).where(I.id == institution_id).values(**values, version=I.version + 1))
    said = "Logo on reports set" if content is not None else "Logo on reports removed"
    audit.record(session, principal, "set_logo", "institution", institution_id, summary=said)
    await session.commit()


LOGO_MAX_PIXELS = 40_000_000  # a few kilobytes of PNG can claim 13,000 × 13,000 pixels: refused before decoding
LOGO_SIDE = 1000  # pixels on the longer side at most: what a report's cover needs, and every report embeds it


def _fit_logo(content: bytes) -> bytes:
    """The logo as reports embed it: no larger than LOGO_SIDE pixels a side, in its own format (PNG keeps its
    transparency); an image claiming more than LOGO_MAX_PIXELS is refused unread."""
    try:
        with warnings.catch_warnings():  # Pillow's own bomb warning: the size is checked just below, before decoding
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(content))
        with probe:
            if probe.width * probe.height > LOGO_MAX_PIXELS:
                raise ValidationFailed(
                    {
                        "file": i18n.gettext(
                            "is %(width)s×%(height)s pixels; a logo is at most %(limit)s megapixels",
                            width=probe.width,
                            height=probe.height,
                            limit=LOGO_MAX_PIXELS // 1_000_000,
                        )
                    }
                )
            if max(probe.width, probe.height) <= LOGO_SIDE:
                return content
            kind = probe.format or "PNG"
            image = probe.copy()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationFailed({"file": i18n.gettext("a logo is a PNG or JPEG image")}) from exc
    image.thumbnail((LOGO_SIDE, LOGO_SIDE))
    if kind == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    fitted = io.BytesIO()
    image.save(fitted, format=kind, **({"quality": 90} if kind == "JPEG" else {"optimize": True}))
    return fitted.getvalue()


async def logo_uri(session: AsyncSession, settings: Settings) -> str | None:
    """The home institution's logo as a data URI, for a report's cover (none when unset or gone from the store)."""
    row = (await session.execute(select(I.logo_sha256, I.logo_type).where(I.is_home.is_(True)))).first()
    if row is None or row.logo_sha256 is None:
        return None
    try:
        content = await files.storage(settings).get(row.logo_sha256)
    except FileNotFoundError:
        return None
    return f"data:{row.logo_type};base64," + base64.b64encode(content).decode()


async def set_home_institution(session: AsyncSession, principal: Principal, institution_id: uuid.UUID) -> None:
    """An administrator names another institution as the one running LibCoop (a mistake at setup, a merger). Exactly
    one is home at any time (a unique index keeps it so); the department's accounts move with it."""
    target = await get_institution(session, principal, institution_id)
    require_admin(principal, N_("choose the home institution"))
    if target.archived:
        raise ValidationFailed({"institution_id": i18n.gettext("an archived institution cannot be the home institution")})
    previous = await home_institution_id(session)
    if previous == institution_id:
        return
    previous_code = await session.scalar(select(I.code).where(I.id == previous)) if previous else None
    await session.execute(update(Institution).where(I.is_home.is_(True)).values(is_home=False, version=I.version + 1))
    await session.execute(update(Institution).where(I.id == institution_id).values(is_home=True, version=I.version + 1))
    moved = 0
    if previous is not None:
        staff = (Role.ADMIN.value, Role.COORDINATOR.value, Role.DIRECTOR.value)
        u = table(User).c
        result = await session.execute(
            update(User).where(u.institution_id == previous, u.role.in_(staff)).values(institution_id=institution_id)
        )
        moved = int(result.rowcount or 0)  # type: ignore[attr-defined]
    summary = f"{target.code} is now the home institution" + (
        f" (was {previous_code}; {moved} staff accounts moved)" if previous_code else ""
    )
    audit.record(session, principal, "set_home", "institution", institution_id, summary=summary)
    await session.commit()


async def _code_errors(session: AsyncSession, code: str, except_id: uuid.UUID | None = None) -> dict[str, str]:
    code = code.strip().upper()
    statement = select(I.id).where(I.code == code)
    if except_id is not None:
        statement = statement.where(I.id != except_id)
    if (await session.scalar(statement)) is not None:
        return {"code": i18n.gettext("%(code)s is already used by another institution", code=code)}
    return {}


async def create_institution(session: AsyncSession, principal: Principal, data: InstitutionIn) -> uuid.UUID:
    require_manager(principal, N_("register institutions"))
    values = _clean_institution(data, await _code_errors(session, data.code))
    institution = Institution(**values)
    session.add(institution)
    await session.flush()
    audit.record(
        session,
        principal,
        "create",
        "institution",
        institution.id,
        summary=f"Registered {values['code']} {values['name']}",
        changes={k: [None, v] for k, v in values.items() if k != "search_text"},
    )
    await session.commit()
    return institution.id


async def _institution_values(session: AsyncSession, institution_id: uuid.UUID) -> dict[str, Any]:
    row = (await session.execute(select(table(Institution)).where(I.id == institution_id))).mappings().first()
    if row is None:
        raise NotFoundError("institution")
    return dict(row)


async def update_institution(session: AsyncSession, principal: Principal, institution_id: uuid.UUID, data: InstitutionUpdate) -> int:
    await get_institution(session, principal, institution_id)  # 404 before 403
    require_manager(principal, N_("edit institutions"))
    values = _clean_institution(data, await _code_errors(session, data.code, institution_id))
    before = await _institution_values(session, institution_id)
    version = await update_versioned(session, Institution, institution_id, data.version, values, what="institution")
    changes = {k: v for k, v in _changes(before, values).items() if k != "search_text"}
    audit.record(session, principal, "update", "institution", institution_id, summary=f"Edited {values['code']}", changes=changes)
    await session.commit()
    return version


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return changes_between(before, after)


async def set_institution_archived(
    session: AsyncSession, principal: Principal, institution_id: uuid.UUID, *, archived: bool, version: int
) -> int:
    current = await get_institution(session, principal, institution_id)
    require_manager(principal, N_("archive institutions"))
    if current.is_home and archived:
        raise ConflictError(i18n.gettext("The home institution cannot be archived."))
    return await audit.archive_or_restore(
        session,
        principal,
        Institution,
        "institution",
        institution_id,
        archived=archived,
        currently_archived=current.archived,
        version=version,
        label=current.code,
    )


# ---- people -------------------------------------------------------------------------------------

_PERSON_SORTS = {"name": ByName(P.name), "institution": I.code, "position": ByName(P.position)}


def _person_visibility(principal: Principal) -> Any:
    return institution_visibility(principal)


async def list_people(
    session: AsyncSession,
    principal: Principal,
    *,
    page: int = 1,
    per_page: int = 25,
    sort: str | None = None,
    q: str | None = None,
    institution_id: uuid.UUID | None = None,
    archived: bool = False,
) -> PersonPage:
    statement = (
        select(P.id, P.name, P.name_native, P.position, P.department, P.institution_id, I.code, P.email)
        .join_from(table(Person), table(Institution), P.institution_id == I.id)
        .where(_person_visibility(principal))
        .where(P.archived_at.is_not(None) if archived else P.archived_at.is_(None))
    )
    for term in search_terms(q):
        statement = statement.where(P.search_text.contains(term, autoescape=True))
    if institution_id:
        statement = statement.where(P.institution_id == institution_id)
    paged = await fetch_page(session, statement, page=page, per_page=per_page, order=order_by(sort, _PERSON_SORTS, "name"), tiebreak=P.id)
    return PersonPage(
        items=[row_to(PersonRow, row) for row in paged.rows], total=paged.total, total_exact=paged.total_exact, page=page, per_page=per_page
    )


async def get_person(session: AsyncSession, principal: Principal, person_id: uuid.UUID) -> PersonOut:
    row = (
        await session.execute(
            select(
                P.id,
                P.name,
                P.name_native,
                P.position,
                P.department,
                P.institution_id,
                I.code,
                I.name,
                P.email,
                P.phone,
                P.languages,
                P.archived_at.is_not(None),
                P.version,
                U.id,
                U.name,
                U.email,
            )
            .join_from(table(Person), table(Institution), P.institution_id == I.id)
            .outerjoin(table(User), U.id == P.user_id)
            .where(P.id == person_id, _person_visibility(principal))
        )
    ).first()
    if row is None:
        raise NotFoundError("person")
    person = row_to(PersonOut, row[:-3])
    person.may_edit = may_change_part_of(principal, person.institution_id)
    if principal.reads_everything or row[-3] == principal.user_id:
        person.account_id, person.account_name, person.account_email = row[-3:]
    return person


async def account_choices(session: AsyncSession, principal: Principal, person: PersonOut) -> list[AccountChoice]:
    """Active accounts of the person's institution not linked to someone else; the one with the person's e-mail first."""
    if not principal.manages_records:
        return []
    other = table(Person).alias("other_person")
    rows = await session.execute(
        select(U.id, U.name, U.email, U.role)
        .where(
            U.institution_id == person.institution_id,
            or_(U.active.is_(True), U.id == person.account_id),  # saving the form unchanged keeps the link
            ~select(other.c.id).where(other.c.user_id == U.id, other.c.id != person.id).exists(),
        )
        .order_by(U.name)
    )
    email = (person.email or "").strip().lower()
    choices = [
        AccountChoice(id=r.id, name=r.name, email=r.email, role=r.role, suggested=bool(email) and r.email.lower() == email) for r in rows
    ]
    return sorted(choices, key=lambda c: not c.suggested)


async def link_account(session: AsyncSession, principal: Principal, person_id: uuid.UUID, data: AccountLinkIn) -> int:
    """What is "mine" (follow-up actions, reminders) follows this link, never a matching e-mail."""
    person = await get_person(session, principal, person_id)
    require_manager(principal, N_("link people to accounts"))
    if data.user_id is not None:
        user = (await session.execute(select(U.name, U.institution_id).where(U.id == data.user_id))).first()
        if user is None:
            raise ValidationFailed({"user_id": i18n.gettext("no such account")})
        if user.institution_id != person.institution_id:
            raise ValidationFailed(
                {"user_id": i18n.gettext("the account belongs to another institution than %(code)s", code=person.institution_code)}
            )
        holder = await session.scalar(select(P.name).where(P.user_id == data.user_id, P.id != person_id))
        if holder is not None:
            raise ConflictError(
                i18n.gettext("That account is already linked to %(name)s.", name=holder),
                errors={"user_id": i18n.gettext("already linked to %(name)s", name=holder)},
            )
    try:
        version = await update_versioned(session, Person, person_id, data.version, {"user_id": data.user_id}, what="person")
    except IntegrityError:  # someone linked that account to another person meanwhile (the unique index decides)
        await session.rollback()
        raise ConflictError(
            i18n.gettext("That account was just linked to someone else."), errors={"user_id": i18n.gettext("linked to another person")}
        ) from None
    linked = await session.scalar(select(U.email).where(U.id == data.user_id)) if data.user_id else None
    audit.record(
        session,
        principal,
        "link_account",
        "person",
        person_id,
        summary=f"{person.name} linked to the account {linked}" if linked else f"{person.name} unlinked from {person.account_email}",
        changes={"account": [person.account_email, linked]},
    )
    await session.commit()
    return version


async def _clean_person(session: AsyncSession, principal: Principal, data: PersonIn) -> dict[str, Any]:
    errors: dict[str, str] = {}
    visible_institution = await session.scalar(
        select(I.id).where(I.id == data.institution_id, institution_visibility(principal), I.archived_at.is_(None))
    )
    if visible_institution is None:
        errors["institution_id"] = i18n.gettext("no such institution")
    elif not may_change_part_of(principal, data.institution_id):
        errors["institution_id"] = i18n.gettext("you may only add or edit people of your own institution")
    email = (data.email or "").strip() or None
    if email and ("@" not in email or email.startswith("@") or email.endswith("@")):
        errors["email"] = i18n.gettext("must be an e-mail address")
    if not data.name.strip():
        errors["name"] = i18n.gettext("is required")
    if errors:
        raise ValidationFailed(errors)

    def text(value: str | None) -> str | None:
        return nfc(value.strip()) if value and value.strip() else None

    values: dict[str, Any] = {
        "name": nfc(data.name.strip()),
        "name_native": text(data.name_native),
        "position": text(data.position),
        "department": text(data.department),
        "institution_id": data.institution_id,
        "email": email,
        "phone": text(data.phone),
        "languages": [lang.strip().lower() for lang in data.languages if lang.strip()],
    }
    values["search_text"] = fold_for_search(values["name"], values["name_native"], values["position"], values["department"], email)
    return values


async def create_person(session: AsyncSession, principal: Principal, data: PersonIn) -> uuid.UUID:
    person_id = await add_person(session, principal, data)
    await session.commit()
    return person_id


async def add_person(session: AsyncSession, principal: Principal, data: PersonIn) -> uuid.UUID:
    """The person added to the session, not committed: a visit adds the people it names in its own transaction."""
    if not (principal.manages_records or principal.is_partner):
        raise ForbiddenError(i18n.gettext("Your role may not add people."))
    values = await _clean_person(session, principal, data)
    person = Person(**values)
    session.add(person)
    await session.flush()
    audit.record(
        session,
        principal,
        "create",
        "person",
        person.id,
        summary=f"Added {values['name']}",
        changes={k: [None, v] for k, v in values.items() if k != "search_text"},
    )
    return person.id


async def update_person(session: AsyncSession, principal: Principal, person_id: uuid.UUID, data: PersonUpdate) -> int:
    current = await get_person(session, principal, person_id)
    if not may_change_part_of(principal, current.institution_id):
        raise ForbiddenError(i18n.gettext("You may only edit people of your own institution."))
    values = await _clean_person(session, principal, data)
    before = dict((await session.execute(select(table(Person)).where(P.id == person_id))).mappings().one())
    version = await update_versioned(session, Person, person_id, data.version, values, what="person")
    changes = {k: v for k, v in _changes(before, values).items() if k != "search_text"}
    audit.record(session, principal, "update", "person", person_id, summary=f"Edited {values['name']}", changes=changes)
    await session.commit()
    return version


async def set_person_archived(session: AsyncSession, principal: Principal, person_id: uuid.UUID, *, archived: bool, version: int) -> int:
    current = await get_person(session, principal, person_id)
    if not may_change_part_of(principal, current.institution_id):
        raise ForbiddenError(i18n.gettext("You may only archive people of your own institution."))
    return await audit.archive_or_restore(
        session,
        principal,
        Person,
        "person",
        person_id,
        archived=archived,
        currently_archived=current.archived,
        version=version,
        label=current.name,
    )


async def people_of(session: AsyncSession, principal: Principal, institution_ids: list[uuid.UUID]) -> list[PersonRow]:
    if not institution_ids:
        return []
    rows = await session.execute(
        select(P.id, P.name, P.name_native, P.position, P.department, P.institution_id, I.code, P.email)
        .join_from(table(Person), table(Institution), P.institution_id == I.id)
        .where(P.institution_id.in_(institution_ids), P.archived_at.is_(None), _person_visibility(principal))
        .order_by(I.code, P.name)
    )
    return [row_to(PersonRow, row) for row in rows]
