"""CSV files in and out: what a spreadsheet saves (UTF-8, comma, semicolon or tab; a byte-order mark or not) read
line by line with every problem named by its line, and exports a spreadsheet opens safely.

Imports are checked whole by their callers before anything is written (one bad line and nothing is applied).
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from litestar import Request, Response
from litestar.datastructures import UploadFile

from cooperation import i18n
from cooperation.errors import ValidationFailed
from cooperation.web import too_large

CELL_LIMIT = csv.field_size_limit()


def read(content: bytes, columns: Sequence[str], required: Sequence[str]) -> tuple[list[tuple[int, dict[str, str]]], dict[str, str]]:
    """The non-blank lines as (line number, {column: stripped cell}), and the lines that could not be read, by
    "line N". A file that cannot be read at all (not UTF-8, no header, unknown or missing columns) raises."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed({"file": i18n.gettext("is not UTF-8 text; save the spreadsheet as “CSV UTF-8”")}) from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ValidationFailed({"file": i18n.gettext("is empty; the first line names the columns: %(columns)s", columns=",".join(columns))})
    delimiter = max(",;\t", key=lines[0].count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    unknown = [h for h in header if h not in columns]
    missing = [c for c in required if c not in header]
    if unknown or missing:
        problems = ([i18n.gettext("unknown column %(columns)s", columns=", ".join(unknown))] if unknown else []) + (
            [i18n.gettext("missing column %(columns)s", columns=", ".join(missing))] if missing else []
        )
        raise ValidationFailed(
            {"line 1": i18n.gettext("%(problems)s (expected: %(columns)s)", problems="; ".join(problems), columns=",".join(columns))}
        )
    rows: list[tuple[int, dict[str, str]]] = []
    errors: dict[str, str] = {}
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a cell past the csv module's size limit, an unclosed quote at the end
            errors[f"line {reader.line_num}"] = i18n.gettext(
                "cannot be read as CSV (%(error)s); each cell holds at most %(limit)s characters", error=exc, limit=f"{CELL_LIMIT:,}"
            )
            continue
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            errors[f"line {line}"] = i18n.gettext("%(values)s values for %(columns)s columns", values=len(cells), columns=len(header))
            continue
        rows.append((line, dict(zip(header, (c.strip() for c in cells), strict=True))))
    return rows, errors


async def read_upload(request: Request[Any, Any, Any]) -> bytes:
    """The CSV file of a request: a form's `file` field, or the body itself (`text/csv`), within the upload limit."""
    limit = request.app.state.settings.upload_max_bytes
    if request.content_type[0] == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed({"file": i18n.gettext("choose a CSV file to upload")})
        content = await upload.read()
    else:
        content = await request.body()
    if len(content) > limit:
        raise ValidationFailed({"file": too_large(i18n.gettext("the file"), len(content), limit)})
    if not content.strip():
        raise ValidationFailed({"file": i18n.gettext("is empty")})
    return content


def _cell(value: Any) -> str:
    """A value as a spreadsheet should show it; text that a spreadsheet would run as a formula (=, +, -, @, tab,
    carriage return first) is quoted with an apostrophe, as OWASP advises for CSV exports."""
    if value is None:
        return ""
    text = str(value)
    if text and text[0] in "=+-@\t\r" and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    yield "\ufeff" + out.getvalue()  # the byte-order mark makes Excel read UTF-8 (Vietnamese, Chinese) as UTF-8
    for row in rows:
        out.seek(0)
        out.truncate()
        writer.writerow([_cell(v) for v in row])
        yield out.getvalue()


def response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response[str]:
    """A CSV download: UTF-8 with a byte-order mark, CRLF lines (RFC 4180)."""
    return Response(
        "".join(lines(header, rows)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
