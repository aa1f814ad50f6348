"""Turn an HTML form (all strings) into an input struct, collecting an error for every bad field."""

import datetime
import re
import types
from typing import Any, TypeVar, Union, get_args, get_origin

import msgspec

from cooperation import i18n
from cooperation.errors import ValidationFailed
from cooperation.i18n import N_

S = TypeVar("S", bound=msgspec.Struct)


def _is_optional(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def _base(annotation: Any) -> Any:
    if get_origin(annotation) is not None and get_origin(annotation).__name__ == "Annotated":
        return get_args(annotation)[0]
    return annotation


def _is_list(annotation: Any) -> bool:
    annotation = _base(annotation)
    if _is_optional(annotation):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    return get_origin(_base(annotation)) is list


def _is_time(annotation: Any) -> bool:
    annotation = _base(annotation)
    if _is_optional(annotation):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    return _base(annotation) is datetime.time


def _is_bool(annotation: Any) -> bool:
    return _base(annotation) is bool


_BOUND = re.compile(r"Expected `(\w+)`(?: of length)? ([<>]=) (-?[\d.]+)")


def _message(exc: msgspec.ValidationError) -> str:
    """msgspec's reason, said the way a form says it, in the reader's language."""
    text = str(exc).split(" - at ", 1)[0]
    if bound := _BOUND.match(text):
        _, operator, limit = bound.groups()
        if " of length" in text:
            if operator == "<=":
                return i18n.gettext("must be at most %(n)s characters", n=limit)
            return i18n.gettext("must be at least %(n)s characters", n=limit)
        if operator == "<=":
            return i18n.gettext("must be at most %(n)s", n=limit)
        return i18n.gettext("must be at least %(n)s", n=limit)
    if text.startswith("Invalid enum value"):
        return i18n.gettext("is not one of the choices")
    if "matching regex" in text:
        return i18n.gettext("has characters that are not allowed here")
    expected = text.removeprefix("Expected `").split("`", 1)[0] if text.startswith("Expected `") else ""
    reasons = {
        "int": N_("must be a whole number"),
        "float": N_("must be a number"),
        "decimal": N_("must be a number"),
        "date": N_("must be a date (YYYY-MM-DD)"),
        "time": N_("must be a time (HH:MM)"),
        "datetime": N_("must be a date and time"),
        "uuid": N_("is not one of the choices"),
        "bool": N_("must be yes or no"),
    }
    if expected in reasons:
        return i18n.gettext(reasons[expected])
    invalid = {"Invalid RFC3339 encoded date": "date", "Invalid RFC3339 encoded time": "time", "Invalid UUID": "uuid"}
    if text in invalid:
        return i18n.gettext(reasons[invalid[text]])
    if text.startswith("Invalid RFC3339 encoded datetime"):
        datetime_reason = reasons["datetime"]
        return i18n.gettext(datetime_reason)
    return i18n.gettext("is not valid (%(reason)s)", reason=text.replace("`", ""))


CHECKBOXES = "_checkboxes"  # a hidden field naming the check boxes a form shows (one value each)


def parse_form(struct_type: type[S], form: dict[str, Any], *, errors: dict[str, str] | None = None) -> S:
    """Convert field by field, so that every wrong field is reported at once, named as in the form."""
    errors = dict(errors or {})
    values: dict[str, Any] = {}
    checkboxes = set(listed(form.get(CHECKBOXES)))
    for field in msgspec.structs.fields(struct_type):
        raw = form.get(field.encode_name)
        if _is_bool(field.type):
            # An unticked box sends nothing, and so does a form that never showed the field: only a form that says it
            # showed the box (CHECKBOXES) turns its absence into false; otherwise the field keeps its default.
            if raw is None and field.encode_name not in checkboxes and not field.required:
                continue
            values[field.name] = raw not in (None, "", "0", "false", "off")
            continue
        if _is_list(field.type):
            items = raw if isinstance(raw, list) else str(raw or "").replace("\n", ",").split(",")
            raw = [item.strip() for item in items if item and item.strip()]
        elif isinstance(raw, str):
            raw = raw.strip()
            if raw == "":
                raw = None
            elif _is_time(field.type) and len(raw) == 5:
                raw += ":00"  # <input type="time"> sends HH:MM
        if raw is None:
            if field.required and not _is_optional(field.type):
                errors[field.name] = i18n.gettext("is required")
                continue
            if not field.required:
                continue
        try:
            values[field.name] = msgspec.convert(raw, field.type, strict=False)
        except msgspec.ValidationError as exc:
            errors[field.name] = _message(exc)
    if errors:
        raise ValidationFailed(errors)
    return struct_type(**values)


def listed(value: Any) -> list[str]:
    """A form field that comes back as nothing, one string or several (a multiple select)."""
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def parse_rows(
    form: dict[str, Any],
    prefix: str,
    fields: tuple[str, ...],
    struct_type: type[S],
    error_key: str,
    *,
    counted_by: tuple[str, ...] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, str], list[S]]:
    """Repeated rows posted as `prefix-N-field`; blank rows are skipped (a row is blank when the `counted_by` fields
    are, by default all of them: a preset choice alone does not make a row).

    Returns the rows as typed (to show the form again), errors keyed `error_key.position.field`, and the parsed rows.
    """
    indexes = sorted({int(key.split("-")[1]) for key in form if key.startswith(prefix + "-") and key.split("-")[1].isdigit()})
    rows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    parsed: list[S] = []
    for index in indexes:
        row = {field: form.get(f"{prefix}-{index}-{field}", "") for field in fields}
        if not any(str(row[field]).strip() for field in counted_by or fields):
            continue
        position = len(rows)
        rows.append(row)
        try:
            parsed.append(parse_form(struct_type, row))
        except ValidationFailed as exc:
            for field, message in exc.errors.items():
                errors[f"{error_key}.{position}.{field}"] = message
    return rows, errors, parsed


def stale_resubmission(stored: dict[str, Any], typed: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """After a save refused as stale: the form as typed but carrying the stored version (saving it again is a
    deliberate choice), and what changed meanwhile."""
    return {**typed, "version": stored["version"]}, changed_meanwhile(stored, typed)


def changed_meanwhile(stored: dict[str, Any], typed: dict[str, Any]) -> list[tuple[str, str, str]]:
    """For a stale edit: each field whose stored value (saved by someone else since the form was opened) is not
    what this person typed, as (field, stored now, typed). The form comes back with what was typed, so nothing is
    lost, and this list says what saving it again would replace."""

    def shown(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value if str(v).strip())
        return "" if value is None else str(value).strip().replace("\r\n", "\n")

    changes = []
    for field, value in stored.items():
        mine = typed.get(field)
        if isinstance(value, bool):  # a checkbox: sent as "1"/"on" when ticked, absent when not
            value, mine = ("yes" if value else "no"), ("yes" if str(mine or "").lower() in ("1", "on", "true", "yes") else "no")
        if field != "version" and shown(value) != shown(mine):
            changes.append((field, shown(value), shown(mine)))
    return changes
