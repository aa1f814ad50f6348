"""What every stored record shares: id, timestamps, version (optimistic locking), archiving; and lists."""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
from sqlalchemy import ColumnElement, Select, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import operators
from sqlmodel import Field, SQLModel

from cooperation import db, i18n
from cooperation.db import UTCDateTime, new_id, utcnow
from cooperation.errors import StaleVersionError, ValidationFailed

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000  # an OFFSET past int64 (page 10^17) was a 500 on PostgreSQL; no list has a millionth page
# Counting stops here: past it a list says "more than 10,000" instead of scanning every row per page.
COUNT_CAP = 10_000


class RecordBase(SQLModel):
    """Columns of every user-editable table."""

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    version: int = Field(default=1, nullable=False)
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


async def update_versioned(
    session: AsyncSession,
    model: Any,
    record_id: uuid.UUID,
    expected_version: int,
    values: Mapping[str, Any],
    *,
    what: str = "record",
) -> int:
    """Write `values` only if the stored version is still `expected_version`; return the new version.

    The check is in the UPDATE's WHERE clause, so two concurrent writers cannot both win.
    """
    new_version = expected_version + 1
    statement = (
        update(model)
        .where(model.id == record_id, model.version == expected_version)
        .values(**values, version=new_version, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    result = await session.execute(statement)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleVersionError(what)
    return new_version


def jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Field -> [old, new] for every field whose value differs (JSON-safe, for audit and diffs)."""
    changed: dict[str, list[Any]] = {}
    for key, new in after.items():
        old = before.get(key)
        if old != new:
            changed[key] = [jsonable(old), jsonable(new)]
    return changed


class PageBase(msgspec.Struct, kw_only=True):
    """Paging facts shared by every list; each list adds its own typed `items`."""

    total: int
    page: int
    per_page: int
    total_exact: bool = True

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def check_paging(page: int, per_page: int) -> None:
    errors = {}
    if not 1 <= page <= MAX_PAGE:
        errors["page"] = i18n.gettext("must be between 1 and %(n)s", n=f"{MAX_PAGE:,}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        errors["per_page"] = i18n.gettext("must be between 1 and %(n)s", n=MAX_PER_PAGE)
    if errors:
        raise ValidationFailed(errors)


@dataclass(frozen=True)
class ByName:
    """A sort on people's words — names and titles — in the reader's alphabetical order (ICU collations: Vietnamese
    a ă â b c d đ e ê… with the tones after the letter, Chinese by pinyin, French ignoring accents at first), and by the
    reader's version of a title where the record has one (`translations`, cooperation/versions.py)."""

    column: Any
    translations: Any = None

    def expression(self) -> Any:
        language = i18n.current()
        words = self.column
        if self.translations is not None:
            words = func.coalesce(self.translations[(language, "title")].as_string(), self.column)
        return words.collate(db.COLLATIONS.get(language, db.COLLATIONS["en"]))


def order_by(sort: str | None, columns: Mapping[str, Any], default: str) -> list[Any]:
    """Translate `name` / `-name` into ORDER BY terms; an unknown key is an error that lists the valid ones."""
    key = sort or default
    descending = key.startswith("-")
    name = key.lstrip("-")
    if name not in columns:
        raise ValidationFailed(
            {"sort": i18n.gettext("unknown sort key %(key)s; use one of %(keys)s", key=repr(name), keys=", ".join(sorted(columns)))}
        )
    column = columns[name].expression() if isinstance(columns[name], ByName) else columns[name]
    return [column.desc() if descending else column.asc()]


class Paged(msgspec.Struct):
    rows: list[Any]
    total: int
    total_exact: bool


async def fetch_page(
    session: AsyncSession,
    statement: Select[Any],
    *,
    page: int,
    per_page: int,
    order: Sequence[Any],
    tiebreak: ColumnElement[Any],
) -> Paged:
    """Rows of one page plus the total (capped at COUNT_CAP): one query, whatever the page size.

    The tie-breaker runs in the same direction as the sort so that one index serves both.
    """
    check_paging(page, per_page)
    # Core statements on the session's connection: the lighter path for read-only lists.
    connection = await session.connection()
    capped = statement.order_by(None).with_only_columns(literal(1)).limit(COUNT_CAP + 1).subquery()
    count = select(func.count()).select_from(capped)
    descending = bool(order) and getattr(order[0], "modifier", None) is operators.desc_op
    tie = tiebreak.desc() if descending else tiebreak.asc()
    # The (uncorrelated, evaluated once) count rides along as the last column: one round trip per page.
    paged = statement.add_columns(count.scalar_subquery()).order_by(*order, tie).limit(per_page).offset((page - 1) * per_page)
    result = (await connection.execute(paged)).all()
    if result:
        counted = int(result[0][-1])
    elif page == 1:
        counted = 0
    else:  # past the last page: count on its own
        counted = int((await connection.execute(count)).scalar_one())
    rows = [row[:-1] for row in result]
    return Paged(rows=list(rows), total=min(counted, COUNT_CAP), total_exact=counted <= COUNT_CAP)


_FOLD_EXTRA = str.maketrans({"đ": "d", "Đ": "d", "ł": "l", "ø": "o", "ß": "ss"})


def fold_for_search(*texts: str | None) -> str:
    """Lower-case text without diacritics, so 'thu vien' finds 'Thư viện' (CJK passes through)."""
    import unicodedata

    joined = " ".join(t for t in texts if t)
    decomposed = unicodedata.normalize("NFKD", joined.translate(_FOLD_EXTRA))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def search_terms(query: str | None) -> list[str]:
    return fold_for_search(query).split() if query else []


def nfc(text: str) -> str:
    """Store text as entered, in NFC (the form a keyboard usually produces; makes comparisons exact)."""
    import unicodedata

    return unicodedata.normalize("NFC", text)


def distinct_labels(values: Iterable[str]) -> list[str]:
    """Tags and topics as typed ("IoT", "AR/VR"), blanks dropped, the first of those equal but for case kept."""
    kept: list[str] = []
    seen: set[str] = set()
    for value in values:
        cleaned = nfc(" ".join(value.split()))
        if cleaned and cleaned.casefold() not in seen:
            seen.add(cleaned.casefold())
            kept.append(cleaned)
    return kept


class VersionIn(msgspec.Struct, forbid_unknown_fields=True):
    """Body of archive/restore: the version the client last saw."""

    version: int


S = TypeVar("S", bound=msgspec.Struct)


def plain(value: Any) -> Any:
    """An output struct as dicts and lists for a report template (dates and ids stay themselves)."""
    return msgspec.to_builtins(value, builtin_types=(date, uuid.UUID))


def row_to(struct_type: type[S], row: Any) -> S:
    """A selected row (columns in field order) as an output struct."""
    return struct_type(*row)
