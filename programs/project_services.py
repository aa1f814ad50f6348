"""Every rule and every write for shared digitization projects and the progress their participants report.

Participants report cumulative counts (titles, volumes, images) as of a date, through the pages, the API or
a CSV file. A batch is checked whole before anything is written: one bad row and nothing is applied. A
figure lower than the one before it (or higher than a later one) is a correction and needs a note; so does
a second report for a date already reported. Partners report only for their own institution.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, delete, func, literal, null, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from agreements.models import Agreement, Commitment
from agreements.services import Measured, pace
from cooperation import audit, csvfiles, i18n, versions
from cooperation.auth.access import (
    Principal,
    may_change_part_of,
    may_see,
    piece_audience,
    piece_visible,
    require_manager,
    seen,
    shared_on_creation,
    visible,
)
from cooperation.db import lock_rows, table, utcnow
from cooperation.errors import ForbiddenError, NotFoundError, ValidationFailed
from cooperation.files import Owner
from cooperation.i18n import N_
from cooperation.partners.dormancy import activity
from cooperation.partners.models import Institution
from cooperation.records import ByName, changes_between, fetch_page, fold_for_search, nfc, order_by, row_to, search_terms, update_versioned
from cooperation.review import record_decision
from programs import forecast as arithmetic
from programs.models import DigitizationProject, ProgressReport, ProjectAgreement, ProjectMilestone, ProjectParticipant
from programs.project_schemas import (
    UNITS,
    AgreementRef,
    Counts,
    Milestone,
    ParticipantProgress,
    ParticipantRole,
    ProgressIn,
    ProjectIn,
    ProjectOut,
    ProjectPage,
    ProjectParticipantIn,
    ProjectRow,
    ProjectUpdate,
    ReportEntry,
    SeriesPoint,
)
from programs.services import measured_elsewhere

D = table(DigitizationProject).c
PP = table(ProjectParticipant).c
PA = table(ProjectAgreement).c
M = table(ProjectMilestone).c
R = table(ProgressReport).c
I = table(Institution).c  # noqa: E741
A = table(Agreement).c
C = table(Commitment).c
CSV_COLUMNS = ("institution", "as_of", "titles", "volumes", "images", "correction_note")
MAX_COUNT = 2_000_000_000  # as the API's Count: a cumulative figure, and what a 32-bit column holds
MAX_LISTED = 100  # problems listed for one file (all are counted)
ASCII_DIGITS = re.compile(r"[0-9]+")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
RECENT_REPORTS = 20


def project_visibility(principal: Principal) -> Any:
    """Staff see every project; a partner those its institution leads or takes part in."""
    # The lead is always one of the participant rows (see _children), so the participant list alone decides.
    return visible(principal, participants=select(PP.institution_id).where(PP.project_id == D.id), internal=D.shared.is_(False))


# ---- projects -----------------------------------------------------------------------------------


async def _clean(session: AsyncSession, data: ProjectIn, project_id: uuid.UUID | None = None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if data.ends_on is not None and data.ends_on < data.starts_on:
        errors["ends_on"] = i18n.gettext("the project cannot end before it starts")
    listed = [p.institution_id for p in data.participants]
    if len(set(listed)) != len(listed):
        errors["participants"] = i18n.gettext("an institution is listed twice")
    known = set(await session.scalars(select(I.id).where(I.id.in_([data.lead_institution_id, *listed]), I.archived_at.is_(None))))
    if data.lead_institution_id not in known:
        errors["lead_institution_id"] = i18n.gettext("no such institution")
    for index, participant in enumerate(data.participants):
        if participant.institution_id not in known:
            errors[f"participants.{index}.institution_id"] = i18n.gettext("no such institution")
        if participant.role is ParticipantRole.LEAD and participant.institution_id != data.lead_institution_id:
            errors[f"participants.{index}.role"] = i18n.gettext("only the lead institution has the lead role")
    if data.platform_url and not data.platform_url.startswith(("https://", "http://")):
        errors["platform_url"] = i18n.gettext("must be a web address starting with https://")
    if data.agreement_ids:
        found = set(await session.scalars(select(A.id).where(A.id.in_(data.agreement_ids))))
        if missing := [str(a) for a in data.agreement_ids if a not in found]:
            errors["agreement_ids"] = i18n.gettext("no such agreement: %(ids)s", ids=", ".join(missing))
    if data.commitment_id is not None:
        owner = await session.scalar(select(C.agreement_id).where(C.id == data.commitment_id, C.archived_at.is_(None)))
        if owner is None or owner not in data.agreement_ids:
            errors["commitment_id"] = i18n.gettext("the commitment measured must belong to one of the project's agreements")
        elif other := await measured_elsewhere(session, data.commitment_id, project_id=project_id):
            errors["commitment_id"] = i18n.gettext("%(record)s measures this commitment already", record=other)
        if data.commitment_unit is None:
            errors["commitment_unit"] = i18n.gettext("say which count measures the commitment (titles, volumes or images)")
    if project_id is not None:
        reported = set(await session.scalars(select(R.institution_id).where(R.project_id == project_id).distinct()))
        kept = {data.lead_institution_id, *listed}
        if dropped := reported - kept:
            codes = ", ".join(sorted(await session.scalars(select(I.code).where(I.id.in_(dropped)))))
            errors["participants"] = i18n.gettext("%(codes)s reported progress and cannot be taken off the project", codes=codes)
    translations, version_errors = versions.clean(data.translations)
    errors |= version_errors
    if errors:
        raise ValidationFailed(errors)
    name = nfc(data.name.strip())
    text = lambda value: nfc(value.strip()) if value and value.strip() else None  # noqa: E731
    return {
        "name": name,
        "name_native": text(data.name_native),
        "lead_institution_id": data.lead_institution_id,
        "starts_on": data.starts_on,
        "ends_on": data.ends_on,
        "platform_url": text(data.platform_url),
        "status": data.status.value,
        "description": nfc(data.description.strip()),
        "consortium_size": data.consortium_size,
        "consortium_area": text(data.consortium_area),
        "target_titles": data.target_titles,
        "target_volumes": data.target_volumes,
        "target_images": data.target_images,
        "stale_after_days": data.stale_after_days,
        "public": data.public,
        "commitment_id": data.commitment_id,
        "commitment_unit": data.commitment_unit.value if data.commitment_unit else None,
        "translations": translations,
        "search_text": fold_for_search(name, data.name_native, data.description, data.consortium_area, versions.search_words(translations)),
    }


def _children(project_id: uuid.UUID, data: ProjectIn) -> list[Any]:
    participants = list(data.participants)
    if data.lead_institution_id not in {p.institution_id for p in participants}:  # the lead always takes part
        participants.insert(0, ProjectParticipantIn(institution_id=data.lead_institution_id, role=ParticipantRole.LEAD))
    rows: list[Any] = []
    for position, p in enumerate(participants):
        role = ParticipantRole.LEAD if p.institution_id == data.lead_institution_id else p.role
        rows.append(
            ProjectParticipant(
                project_id=project_id,
                institution_id=p.institution_id,
                role=role.value,
                target_titles=p.target_titles,
                target_volumes=p.target_volumes,
                target_images=p.target_images,
                position=position,
            )
        )
    rows += [ProjectAgreement(project_id=project_id, agreement_id=a) for a in dict.fromkeys(data.agreement_ids)]
    rows += [
        ProjectMilestone(project_id=project_id, title=nfc(m.title.strip()), due_on=m.due_on, done_on=m.done_on, position=i)
        for i, m in enumerate(data.milestones)
    ]
    return rows


async def create_project(session: AsyncSession, principal: Principal, data: ProjectIn) -> uuid.UUID:
    require_manager(principal, N_("set up digitization projects"))
    values = await _clean(session, data)
    values["shared"] = shared_on_creation(principal, data.shared)
    project = DigitizationProject(**values)
    session.add(project)
    await session.flush()
    session.add_all(_children(project.id, data))
    audit.record(session, principal, "create", "project", project.id, summary=f"Project “{values['name']}” set up")
    await session.commit()
    return project.id


async def update_project(session: AsyncSession, principal: Principal, project_id: uuid.UUID, data: ProjectUpdate) -> int:
    before = await _visible_row(session, principal, project_id)
    require_manager(principal, N_("change digitization projects"))
    values = await _clean(session, data, project_id)
    if data.shared:  # sharing is one way here; it is also the page's own action (cooperation/share.py)
        values["shared"] = True
    version = await update_versioned(session, DigitizationProject, project_id, data.version, values, what="project")
    for model in (ProjectParticipant, ProjectAgreement, ProjectMilestone):
        await session.execute(delete(model).where(table(model).c.project_id == project_id))
    session.add_all(_children(project_id, data))
    audit.record(
        session,
        principal,
        "update",
        "project",
        project_id,
        summary=f"Project “{values['name']}” changed",
        changes={k: v for k, v in changes_between(dict(before), values).items() if k != "search_text"},
    )
    await session.commit()
    return version


async def ensure_visible(session: AsyncSession, principal: Principal, project_id: uuid.UUID) -> None:
    """404 unless the person may see it: before a form is read, so a bad form cannot tell that a hidden record exists."""
    await _visible_row(session, principal, project_id)


async def _visible_row(session: AsyncSession, principal: Principal, project_id: uuid.UUID) -> Any:
    statement = select(table(DigitizationProject)).where(D.id == project_id, project_visibility(principal))
    row = (await session.execute(statement)).mappings().first()
    if row is None:
        raise NotFoundError("project")
    return row


def main_unit(project: Any, participant_targets: list[Any]) -> str:
    """The unit progress is measured in: volumes, else titles, else images — the first with a target."""
    for unit in ("volumes", "titles", "images"):
        if project[f"target_{unit}"] or any(t[f"target_{unit}"] for t in participant_targets):
            return unit
    return "volumes"


def project_target(project: Any, participant_targets: list[Any], unit: str) -> int | None:
    """The project's own target, or the sum of its participants' targets when it sets none."""
    if project[f"target_{unit}"]:
        return int(project[f"target_{unit}"])
    total = sum(t[f"target_{unit}"] or 0 for t in participant_targets)
    return total or None


async def series_of(session: AsyncSession, project_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[SeriesPoint]]:
    """Each project's totals at each reported date, computed in the database in one query: each report adds what it
    changed since the same participant's previous figure (a blank unit changes nothing), summed per date and
    accumulated. `forecast.totals_over_time` is the same rule in Python, and the tests hold the two together."""

    def deltas(unit: str, value: Any) -> Any:
        previous = func.lag(value).over(partition_by=(R.project_id, R.institution_id), order_by=R.as_of)
        return select(R.project_id, R.as_of, literal(unit).label("unit"), (value - func.coalesce(previous, 0)).label("delta")).where(
            R.project_id.in_(project_ids), value.is_not(None)
        )

    changes = union_all(*(deltas(unit, getattr(R, unit)) for unit in UNITS)).subquery()
    running: dict[uuid.UUID, dict[str, int]] = {p: dict.fromkeys(UNITS, 0) for p in project_ids}
    found: dict[uuid.UUID, list[SeriesPoint]] = {p: [] for p in project_ids}
    if not project_ids:
        return found
    for project_id, as_of, unit, delta in await session.execute(
        select(changes.c.project_id, changes.c.as_of, changes.c.unit, func.sum(changes.c.delta))
        .group_by(changes.c.project_id, changes.c.as_of, changes.c.unit)
        .order_by(changes.c.project_id, changes.c.as_of)
    ):
        totals, points = running[project_id], found[project_id]
        totals[unit] += int(delta)
        point = SeriesPoint(as_of, totals["titles"], totals["volumes"], totals["images"])
        if points and points[-1].as_of == as_of:
            points[-1] = point
        else:
            points.append(point)
    return found


def _latest_reports(project_id: uuid.UUID) -> Any:
    """Each participant's latest report: when, by whom."""
    ranked = (
        select(
            R.institution_id,
            R.as_of,
            R.reported_by_name,
            R.reported_at,
            func.row_number().over(partition_by=R.institution_id, order_by=(R.as_of.desc(), R.reported_at.desc())).label("rank"),
        )
        .where(R.project_id == project_id)
        .subquery()
    )
    return select(ranked.c.institution_id, ranked.c.as_of, ranked.c.reported_by_name, ranked.c.reported_at).where(ranked.c.rank == 1)


def _latest_figures(project_id: uuid.UUID) -> Any:
    """Each participant's latest figure in each unit it counts (a blank unit keeps the figure before)."""

    def latest(unit: str, value: Any) -> Any:
        rank = func.row_number().over(partition_by=R.institution_id, order_by=R.as_of.desc())
        return select(R.institution_id, literal(unit).label("unit"), value.label("value"), rank.label("rank")).where(
            R.project_id == project_id, value.is_not(None)
        )

    figures = union_all(*(latest(unit, getattr(R, unit)) for unit in UNITS)).subquery()
    return select(figures.c.institution_id, figures.c.unit, figures.c.value).where(figures.c.rank == 1)


async def get_project(session: AsyncSession, principal: Principal, project_id: uuid.UUID, *, today: date | None = None) -> ProjectOut:
    """The whole project page in a fixed number of queries, whatever the number of participants and reports:
    the database does the per-report work (latest figures, totals over time), Python only the per-participant."""
    today = today or date.today()
    row = await _visible_row(session, principal, project_id)
    lead = (await session.execute(select(I.code, I.name).where(I.id == row["lead_institution_id"]))).one()
    participants = (
        (
            await session.execute(
                select(PP.institution_id, I.code, I.name, I.name_native, PP.role, PP.target_titles, PP.target_volumes, PP.target_images)
                .join(table(Institution), I.id == PP.institution_id)
                .where(PP.project_id == project_id)
                .order_by(PP.position)
            )
        )
        .mappings()
        .all()
    )
    series = (await series_of(session, [project_id]))[project_id]
    latest = {r.institution_id: r for r in await session.execute(_latest_reports(project_id))}
    figures: dict[uuid.UUID, dict[str, int]] = {}
    for institution_id, unit_name, value in await session.execute(_latest_figures(project_id)):
        figures.setdefault(institution_id, {})[unit_name] = value
    recent = (
        await session.execute(
            select(
                R.as_of,
                R.titles,
                R.volumes,
                R.images,
                case((piece_visible(principal, R.note_audience, R.note_institution_id), R.correction_note), else_=null()).label("note"),
                R.note_audience,
                R.note_institution_id,
                R.source,
                R.reported_by_name,
                R.reported_at,
                I.code,
            )
            .join(table(Institution), I.id == R.institution_id)
            .where(R.project_id == project_id)
            .order_by(R.reported_at.desc(), R.as_of.desc())
            .limit(RECENT_REPORTS)
        )
    ).all()
    milestones = [
        Milestone(t, due, done, arithmetic.milestone_state(due, done, today))
        for t, due, done in await session.execute(
            select(M.title, M.due_on, M.done_on).where(M.project_id == project_id).order_by(M.due_on, M.position)
        )
    ]
    agreements = [
        row_to(AgreementRef, r)
        for r in await session.execute(
            select(A.id, A.reference, A.title)
            .join(table(ProjectAgreement), PA.agreement_id == A.id)
            .where(PA.project_id == project_id, may_see(principal, "agreement", A.id))
        )
    ]

    unit = main_unit(row, list(participants))
    progress = []
    for p in participants:
        last = latest.get(p["institution_id"])
        counts = figures.get(p["institution_id"], {})
        progress.append(
            ParticipantProgress(
                institution_id=p["institution_id"],
                code=p["code"],
                name=p["name"],
                name_native=p["name_native"],
                role=p["role"],
                target=Counts(p["target_titles"], p["target_volumes"], p["target_images"]),
                latest=Counts(counts.get("titles"), counts.get("volumes"), counts.get("images")),
                as_of=last.as_of if last else None,
                reported_by=last.reported_by_name if last else None,
                reported_at=last.reported_at if last else None,
                percent=arithmetic.percent(counts.get(unit), p[f"target_{unit}"]),
                stale=row["status"] == "active"
                and p["role"] != ParticipantRole.OBSERVER.value
                and arithmetic.is_stale(last.as_of if last else None, today, row["stale_after_days"]),
                may_report=may_change_part_of(principal, p["institution_id"]),
            )
        )
    target = project_target(row, list(participants), unit)
    outlook = arithmetic.forecast(series, unit, target, today, row["starts_on"], row["ends_on"])
    newest = series[-1] if series else SeriesPoint(today, 0, 0, 0)
    counted = {u for counts in figures.values() for u in counts}  # a unit nobody counts stays blank
    total = Counts(*(getattr(newest, u) if u in counted else None for u in UNITS))
    risks = [
        i18n.gettext("milestone “%(title)s” is late (due %(day)s)", title=m.title, day=i18n.format_day(m.due_on))
        for m in milestones
        if m.state == "late"
    ]
    if outlook.after_end and row["status"] == "active":
        risks.append(
            i18n.gettext(
                "at the rate of the last 90 days the target is reached on %(day)s, after the planned end",
                day=i18n.format_day(outlook.completion_on),
            )
            if outlook.completion_on
            else i18n.gettext("no progress in the last 90 days: at this rate the target is never reached")
        )
    stale = [p.code for p in progress if p.stale]
    if stale:
        risks.append(
            i18n.gettext(
                "no report for more than %(days)s days from %(codes)s",
                days=row["stale_after_days"],
                codes=", ".join(stale[:10]) + (" …" if len(stale) > 10 else ""),
            )
        )
    return ProjectOut(
        id=row["id"],
        name=row["name"],
        name_native=row["name_native"],
        lead_institution_id=row["lead_institution_id"],
        lead_code=lead.code,
        lead_name=lead.name,
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        platform_url=row["platform_url"],
        status=row["status"],
        description=row["description"],
        translations=dict(row["translations"] or {}),
        consortium_size=row["consortium_size"],
        consortium_area=row["consortium_area"],
        target=Counts(*(project_target(row, list(participants), u) for u in UNITS)),
        own_target=Counts(row["target_titles"], row["target_volumes"], row["target_images"]),
        stale_after_days=row["stale_after_days"],
        commitment_id=row["commitment_id"] if await seen(session, principal, "commitment", [row["commitment_id"]]) else None,
        commitment_unit=row["commitment_unit"],
        public=bool(row["public"]),
        main_unit=unit,
        total=total,
        percent=arithmetic.percent(getattr(newest, unit), target),
        participants=progress,
        milestones=milestones,
        agreements=agreements,
        forecast=outlook,
        series=series,
        recent_reports=[
            ReportEntry(
                r.code,
                r.as_of,
                r.titles,
                r.volumes,
                r.images,
                r.note,
                r.source,
                r.reported_by_name,
                r.reported_at,
                r.note_audience,
                r.note_institution_id,
            )
            for r in recent
        ],
        risks=risks,
        version=row["version"],
        archived=row["archived_at"] is not None,
    )


async def list_projects(
    session: AsyncSession,
    principal: Principal,
    *,
    page: int = 1,
    per_page: int = 25,
    sort: str | None = None,
    q: str | None = None,
    status: str | None = None,
) -> ProjectPage:
    statement = (
        select(D.id, D.name, D.name_native, I.code, D.status, D.starts_on, D.ends_on, D.translations)
        .join_from(table(DigitizationProject), table(Institution), I.id == D.lead_institution_id)
        .where(project_visibility(principal), D.archived_at.is_(None))
    )
    for term in search_terms(q):
        statement = statement.where(D.search_text.contains(term, autoescape=True))
    if status:
        statement = statement.where(D.status == status)
    paged = await fetch_page(
        session,
        statement,
        page=page,
        per_page=per_page,
        order=order_by(sort, {"starts_on": D.starts_on, "name": ByName(D.name, D.translations), "status": D.status}, "-starts_on"),
        tiebreak=D.id,
    )
    return ProjectPage(
        items=[row_to(ProjectRow, r) for r in paged.rows], total=paged.total, total_exact=paged.total_exact, page=page, per_page=per_page
    )


# ---- progress reports ---------------------------------------------------------------------------


@dataclass
class Entry:
    """One report to write, with where it came from (a CSV line number, or none) for error messages."""

    data: ProgressIn
    line: int | None = None

    def key(self, field: str) -> str:
        return f"line {self.line}" if self.line is not None else field  # a key; pages name it (web.field_label)


async def _check_batch(
    session: AsyncSession,
    principal: Principal,
    project: Any,
    entries: list[Entry],
    today: date,
    errors: dict[str, str] | None = None,
) -> dict[tuple[uuid.UUID, date], Any]:
    """Every rule for a batch of reports, checked against each other and what is stored, in one pass (a future date
    on one line does not hide a falling count on another). Returns the stored reports they replace (same institution
    and date). Raises with every problem, by line — with `errors` already found in the file — when any.

    The participants' rows are locked first, so two batches for the same institution are checked and written one
    after the other: each sees what the other stored, and no falling count slips in between."""
    errors = errors if errors is not None else {}

    def refuse(entry: Entry, field: str, message: str) -> None:
        key = entry.key(field)
        errors[key] = f"{errors[key]}; {message}" if key in errors else (message if entry.line is None else f"{field}: {message}")

    participants = set(await session.scalars(select(PP.institution_id).where(PP.project_id == project["id"])))
    institutions = {e.data.institution_id for e in entries}
    await lock_rows(
        session, table(ProjectParticipant), PP.project_id == project["id"], PP.institution_id.in_(institutions), order=PP.institution_id
    )
    stored = (
        await session.execute(
            select(R.id, R.institution_id, R.as_of, R.titles, R.volumes, R.images).where(
                R.project_id == project["id"], R.institution_id.in_(institutions)
            )
        )
    ).all()
    replaced = {(r.institution_id, r.as_of): r for r in stored}
    seen: dict[tuple[uuid.UUID, date], Entry] = {}
    for entry in entries:
        data = entry.data
        if data.institution_id not in participants:
            refuse(entry, "institution_id", i18n.gettext("this institution does not take part in the project"))
            continue
        if not may_change_part_of(principal, data.institution_id):
            raise ForbiddenError(i18n.gettext("A partner reports progress for its own institution only."))
        if data.as_of > today:
            refuse(entry, "as_of", i18n.gettext("%(day)s is in the future", day=data.as_of.isoformat()))
        if data.as_of < project["starts_on"]:
            refuse(entry, "as_of", i18n.gettext("the project starts on %(day)s", day=project["starts_on"].isoformat()))
        if all(getattr(data, unit) is None for unit in UNITS):
            refuse(entry, "volumes", i18n.gettext("give at least one count (titles, volumes or images)"))
        key = (data.institution_id, data.as_of)
        if key in seen:
            first = seen[key]
            refuse(
                entry,
                "as_of",
                i18n.gettext("a second report for %(day)s (line %(line)s has it)", day=data.as_of.isoformat(), line=first.line)
                if first.line
                else i18n.gettext("a second report for %(day)s", day=data.as_of.isoformat()),
            )
            continue
        seen[key] = entry
        if key in replaced and not (data.correction_note and data.correction_note.strip()):
            refuse(
                entry,
                "correction_note",
                i18n.gettext("%(day)s is already reported; add a correction note to replace it", day=data.as_of.isoformat()),
            )
    # Counts never go backwards silently: walk each institution's reports in date order, the batch in place of what it replaces.
    timeline: dict[uuid.UUID, list[tuple[date, Any, Entry | None]]] = {}
    for r in stored:
        if (r.institution_id, r.as_of) not in seen:
            timeline.setdefault(r.institution_id, []).append((r.as_of, r, None))
    for entry in entries:
        if entry.data.institution_id in participants and seen.get((entry.data.institution_id, entry.data.as_of)) is entry:
            timeline.setdefault(entry.data.institution_id, []).append((entry.data.as_of, entry.data, entry))
    for items in timeline.values():
        items.sort(key=lambda item: item[0])
        last: dict[str, tuple[int, date, Entry | None]] = {}
        for as_of, figures, new in items:
            for unit in UNITS:
                value = getattr(figures, unit)
                if value is None:
                    continue
                before = last.get(unit)
                if before is not None and value < before[0]:
                    # The new report that makes a figure go down carries the note: the lower one, or, when the
                    # lower one is already stored, the new higher one before it.
                    culprit = new or before[2]
                    if culprit is not None and not (culprit.data.correction_note and culprit.data.correction_note.strip()):
                        refuse(
                            culprit,
                            "correction_note",
                            i18n.gettext(
                                "%(unit)s go down from %(before)s (%(before_day)s) to %(after)s (%(after_day)s); "
                                "a lower figure needs a correction note",
                                unit=unit,
                                before=f"{before[0]:,}",
                                before_day=before[1].isoformat(),
                                after=f"{value:,}",
                                after_day=as_of.isoformat(),
                            ),
                        )
                last[unit] = (value, as_of, new)
    if errors:
        raise ValidationFailed(errors)
    return replaced


async def _write_batch(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID, entries: list[Entry], replaced: dict[Any, Any], source: str
) -> None:
    now = utcnow()
    for entry in entries:
        data = entry.data
        values: dict[str, Any] = {
            "titles": data.titles,
            "volumes": data.volumes,
            "images": data.images,
            "correction_note": nfc(data.correction_note.strip()) if data.correction_note and data.correction_note.strip() else None,
            "note_audience": piece_audience(principal, data.note_audience).value,
            # A participant's own note (or the harvest's, read from its stream) is that participant's, not every partner's.
            "note_institution_id": data.institution_id if principal.is_partner or principal.system else None,
            "source": source,
            "reported_by_id": None if principal.system else principal.user_id,
            "reported_by_name": principal.name,
            "reported_at": now,
        }
        existing = replaced.get((data.institution_id, data.as_of))
        if existing is not None:
            await session.execute(update(ProgressReport).where(R.id == existing.id).values(**values))
        else:
            session.add(ProgressReport(project_id=project_id, institution_id=data.institution_id, as_of=data.as_of, **values))


async def report_progress(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID, data: ProgressIn, *, source: str = "api", today: date | None = None
) -> None:
    project = await _visible_row(session, principal, project_id)
    entries = [Entry(data)]
    replaced = await _check_batch(session, principal, project, entries, today or date.today())
    await _write_batch(session, principal, project_id, entries, replaced, source)
    code = await session.scalar(select(I.code).where(I.id == data.institution_id))
    counts = ", ".join(f"{getattr(data, u):,} {u}" for u in UNITS if getattr(data, u) is not None)
    summary = f"Progress of {code} as of {data.as_of.isoformat()}: {counts}" + (" (correction)" if data.correction_note else "")
    audit.record(session, principal, "report_progress", "project", project_id, summary=summary)
    await session.commit()


def parse_csv(content: bytes, codes: dict[str, uuid.UUID]) -> tuple[list[Entry], dict[str, str]]:
    """Rows of `institution,as_of,titles,volumes,images,correction_note` (comma, semicolon or tab separated, UTF-8).

    The good rows, and every bad row's problems by line number (the caller checks the good ones too, so that one
    answer lists everything to fix). A file that cannot be read at all raises.
    """
    rows, errors = csvfiles.read(content, CSV_COLUMNS, ("institution", "as_of"))
    entries: list[Entry] = []
    for line, row in rows:
        problems = []
        controls = [column for column, value in row.items() if CONTROL.search(value)]
        if controls:
            errors[f"line {line}"] = i18n.gettext("%(columns)s: contains a control character (such as NUL)", columns=", ".join(controls))
            continue
        institution = codes.get(row["institution"].upper())
        if institution is None:
            problems.append(i18n.gettext("institution: no participant with the code %(code)s", code=repr(row["institution"])))
        try:
            as_of = date.fromisoformat(row["as_of"])
        except ValueError:
            problems.append(i18n.gettext("as_of: %(value)s is not a date such as 2025-11-27", value=repr(row["as_of"])))
        counts: dict[str, int | None] = {}
        for unit in UNITS:
            raw = row.get(unit, "").replace(" ", "").replace("\u00a0", "")
            if not raw:
                counts[unit] = None
            elif not ASCII_DIGITS.fullmatch(raw):  # "²" and other Unicode digits are not counts
                problems.append(
                    i18n.gettext("%(unit)s: %(value)s is not a whole number of zero or more", unit=unit, value=repr(row.get(unit)))
                )
            elif int(raw) > MAX_COUNT:
                problems.append(
                    i18n.gettext("%(unit)s: %(value)s is more than %(limit)s", unit=unit, value=f"{int(raw):,}", limit=f"{MAX_COUNT:,}")
                )
            else:
                counts[unit] = int(raw)
        note = row.get("correction_note") or None
        if note and len(note) > 1000:
            problems.append(i18n.gettext("correction_note: longer than 1000 characters"))
        if problems:
            errors[f"line {line}"] = "; ".join(problems)
            continue
        assert institution is not None
        figures = ProgressIn(
            institution_id=institution,
            as_of=as_of,
            titles=counts.get("titles"),
            volumes=counts.get("volumes"),
            images=counts.get("images"),
            correction_note=note,
        )
        entries.append(Entry(figures, line=line))
    if not entries and not errors:
        raise ValidationFailed({"file": "has no rows under its header"})
    return entries, errors


def _capped(errors: dict[str, str]) -> ValidationFailed:
    """Every problem counted, the first MAX_LISTED listed in line order: a file of 100,000 bad rows answers in a page."""

    def order(key: str) -> tuple[int, str]:
        number = key.removeprefix("line ")
        return (int(number), key) if number.isdigit() else (0, key)

    listed = dict(sorted(errors.items(), key=lambda item: order(item[0]))[:MAX_LISTED])
    more = len(errors) - len(listed)
    count = f"{len(errors):,}"
    detail = (
        i18n.gettext(
            "Nothing from this file was applied: %(count)s problem(s) to fix; the first %(listed)s are listed, %(more)s more after them.",
            count=count,
            listed=MAX_LISTED,
            more=f"{more:,}",
        )
        if more
        else i18n.gettext("Nothing from this file was applied: %(count)s problem(s) to fix.", count=count)
    )
    return ValidationFailed(listed, detail)


async def import_csv(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID, content: bytes, *, today: date | None = None
) -> int:
    """All rows or none: the file is checked whole, then written in one transaction. Returns the rows applied."""
    project = await _visible_row(session, principal, project_id)
    codes = {
        code.upper(): institution_id
        for code, institution_id in await session.execute(
            select(I.code, PP.institution_id).join(table(Institution), I.id == PP.institution_id).where(PP.project_id == project_id)
        )
    }
    try:
        entries, errors = parse_csv(content, codes)
        replaced = await _check_batch(session, principal, project, entries, today or date.today(), errors)
    except ValidationFailed as exc:
        raise _capped(exc.errors) from None
    await _write_batch(session, principal, project_id, entries, replaced, "csv")
    corrections = sum(1 for e in entries if e.data.correction_note)
    audit.record(
        session,
        principal,
        "import_progress",
        "project",
        project_id,
        summary=f"Progress imported from CSV: {len(entries)} rows" + (f", {corrections} corrections" if corrections else ""),
    )
    await session.commit()
    return len(entries)


def visible_ids(principal: Principal) -> Any:
    """The digitization projects this person may see, as a subquery."""
    return select(D.id).where(project_visibility(principal))


async def attachment_owner(session: AsyncSession, principal: Principal, project_id: uuid.UUID) -> Owner:
    """Documents and comments of a project: staff and the participants' partners may add them."""
    row = await _visible_row(session, principal, project_id)
    participants = tuple(await session.scalars(select(PP.institution_id).where(PP.project_id == project_id)))
    takes_part = principal.is_partner and principal.institution_id is not None and principal.institution_id in participants
    return Owner(
        label=f"the project “{row['name']}”",
        url=f"/projects/{project_id}",
        may_add=principal.manages_records or takes_part,
        partner_ids=participants,
    )


def institutions_sharing_with(institution_id: uuid.UUID) -> Any:
    """The other participants of the projects `institution_id` takes part in (so its partner librarians see them)."""
    mine = (
        select(PP.project_id)
        .join(table(DigitizationProject), D.id == PP.project_id)
        .where(PP.institution_id == institution_id, D.shared.is_(True))
    )
    return select(PP.institution_id).where(PP.project_id.in_(mine))


# ---- many projects at once: the dashboard, commitments measured by a project, reports ------------


async def totals_on(session: AsyncSession, unit_by_project: dict[uuid.UUID, str], day: date) -> dict[uuid.UUID, int]:
    """Each project's total in its unit as of `day`: the sum of every participant's latest figure in that unit
    (one query per unit, whatever the number of projects and reports)."""
    totals = dict.fromkeys(unit_by_project, 0)
    for unit in UNITS:
        projects = [p for p, u in unit_by_project.items() if u == unit]
        if not projects:
            continue
        value = getattr(R, unit)
        ranked = (
            select(
                R.project_id,
                value.label("value"),
                func.row_number().over(partition_by=(R.project_id, R.institution_id), order_by=R.as_of.desc()).label("rank"),
            )
            .where(R.project_id.in_(projects), value.is_not(None), R.as_of <= day)
            .subquery()
        )
        for project_id, total in await session.execute(
            select(ranked.c.project_id, func.sum(ranked.c.value)).where(ranked.c.rank == 1).group_by(ranked.c.project_id)
        ):
            totals[project_id] = int(total or 0)
    return totals


async def _targets(session: AsyncSession, project_rows: list[Any]) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, int | None]]:
    """The main unit and target of each project (one query for the participants' targets)."""
    by_project: dict[uuid.UUID, list[Any]] = {}
    if project_rows:
        for r in (
            await session.execute(
                select(PP.project_id, PP.target_titles, PP.target_volumes, PP.target_images).where(
                    PP.project_id.in_([p["id"] for p in project_rows])
                )
            )
        ).mappings():
            by_project.setdefault(r["project_id"], []).append(r)
    units = {p["id"]: main_unit(p, by_project.get(p["id"], [])) for p in project_rows}
    targets = {p["id"]: project_target(p, by_project.get(p["id"], []), units[p["id"]]) for p in project_rows}
    return units, targets


@dataclass
class ProjectHealth:
    id: uuid.UUID
    name: str
    lead_code: str
    unit: str
    done: int
    target: int | None
    percent: float | None
    completion_on: date | None
    risks: list[str]
    translations: dict[str, dict[str, str]] | None = None  # the name in other languages (cooperation/versions.py)


async def project_health(
    session: AsyncSession, principal: Principal, *, today: date | None = None, project_ids: list[uuid.UUID] | None = None
) -> list[ProjectHealth]:
    """Progress and risks of every active project the person may see, in a fixed number of queries."""
    today = today or date.today()
    statement = (
        select(table(DigitizationProject), I.code.label("lead_code"))
        .join(table(Institution), I.id == D.lead_institution_id)
        .where(project_visibility(principal), D.archived_at.is_(None))
    )
    statement = statement.where(D.id.in_(project_ids)) if project_ids is not None else statement.where(D.status == "active")
    projects = (await session.execute(statement.order_by(D.name))).mappings().all()
    if not projects:
        return []
    units, targets = await _targets(session, list(projects))
    now = await totals_on(session, units, today)
    window = {p["id"]: max(today - timedelta(days=arithmetic.RATE_WINDOW_DAYS), p["starts_on"]) for p in projects}
    before: dict[uuid.UUID, int] = {}
    for day in set(window.values()):
        chosen = {p: u for p, u in units.items() if window[p] == day}
        before |= await totals_on(session, chosen, day)
    ids = [p["id"] for p in projects]
    late: dict[uuid.UUID, list[str]] = {}
    for project_id, title, due in await session.execute(
        select(M.project_id, M.title, M.due_on)
        .where(M.project_id.in_(ids), or_(M.done_on.is_(None), M.done_on > today), M.due_on < today)
        .order_by(M.due_on)
    ):
        late.setdefault(project_id, []).append(
            i18n.gettext("milestone “%(title)s” is late (due %(day)s)", title=title, day=i18n.format_day(due))
        )
    last_report = (
        select(PP.project_id, I.code, func.max(R.as_of).label("last"))
        .select_from(
            table(ProjectParticipant)
            .join(table(Institution), I.id == PP.institution_id)
            .outerjoin(
                table(ProgressReport), (R.project_id == PP.project_id) & (R.institution_id == PP.institution_id) & (R.as_of <= today)
            )
        )
        .where(PP.project_id.in_(ids), PP.role != ParticipantRole.OBSERVER.value)
        .group_by(PP.project_id, I.code)
    )
    stale: dict[uuid.UUID, list[str]] = {}
    limits = {p["id"]: p["stale_after_days"] for p in projects}
    for project_id, code, last in await session.execute(last_report):
        if arithmetic.is_stale(last, today, limits[project_id]):
            stale.setdefault(project_id, []).append(code)
    health = []
    for p in projects:
        pid, target, done = p["id"], targets[p["id"]], now[p["id"]]
        days = (today - window[pid]).days
        rate = (done - before.get(pid, 0)) / days if days > 0 else None
        outlook = arithmetic.forecast_from(done, rate, target, today, p["ends_on"])
        risks = list(late.get(pid, []))
        if outlook.after_end:
            risks.append(
                i18n.gettext(
                    "at the current rate the target is reached on %(day)s, after the planned end",
                    day=i18n.format_day(outlook.completion_on),
                )
                if outlook.completion_on
                else i18n.gettext("no progress in the last 90 days")
            )
        if pid in stale:
            codes = ", ".join(sorted(stale[pid])[:10])
            risks.append(i18n.gettext("no report for more than %(days)s days from %(codes)s", days=p["stale_after_days"], codes=codes))
        health.append(
            ProjectHealth(
                pid,
                p["name"],
                p["lead_code"],
                units[pid],
                done,
                target,
                arithmetic.percent(done, target),
                outlook.completion_on,
                risks,
                dict(p["translations"] or {}),
            )
        )
    return health


async def commitment_measures(
    session: AsyncSession, principal: Principal, commitment_ids: list[uuid.UUID], on: date
) -> dict[uuid.UUID, Measured]:
    """Commitments measured by a project: their progress is the project's total against its target in the unit chosen."""
    rows = (
        (
            await session.execute(
                select(table(DigitizationProject)).where(
                    D.commitment_id.in_(commitment_ids), D.archived_at.is_(None), may_see(principal, "project", D.id)
                )
            )
        )
        .mappings()
        .all()
    )
    if not rows:
        return {}
    units = {r["id"]: r["commitment_unit"] or "volumes" for r in rows}
    by_project: dict[uuid.UUID, list[Any]] = {}
    for r in (
        await session.execute(
            select(PP.project_id, PP.target_titles, PP.target_volumes, PP.target_images).where(PP.project_id.in_(list(units)))
        )
    ).mappings():
        by_project.setdefault(r["project_id"], []).append(r)
    done = await totals_on(session, units, on)
    measured = {}
    for r in rows:
        unit = units[r["id"]]
        target = project_target(r, by_project.get(r["id"], []), unit)
        share = arithmetic.percent(done[r["id"]], target)
        label = (
            f"Project “{r['name']}”: {done[r['id']]:,} of {target:,} {unit}"
            if target
            else f"Project “{r['name']}”: {done[r['id']]:,} {unit}"
        )
        state = pace(done[r["id"]], target or 0, r["starts_on"], r["ends_on"], on)
        measured[r["commitment_id"]] = Measured(min(100, int(share or 0)), label, f"/projects/{r['id']}", state)
    return measured


async def set_archived(session: AsyncSession, principal: Principal, project_id: uuid.UUID, *, archived: bool, version: int) -> int:
    row = await _visible_row(session, principal, project_id)
    require_manager(principal, N_("archive digitization projects"))
    return await audit.archive_or_restore(
        session,
        principal,
        DigitizationProject,
        "project",
        project_id,
        archived=archived,
        currently_archived=row["archived_at"] is not None,
        version=version,
        label=row["name"],
    )


def partner_activity() -> list[Any]:
    """Progress reported, by the day it counts to (cooperation/partners/dormancy.py)."""
    return [activity(R.institution_id, "progress_report", R.as_of)]


async def set_progress_publication(session: AsyncSession, principal: Principal, project_ids: list[uuid.UUID], publish: bool) -> int:
    """A coordinator publishes the progress of projects proposed for the portal, or keeps it internal (leaving the
    portal at the next request). All or none; audited per project."""
    require_manager(principal, N_("publish on the portal"))
    rows = (await session.execute(select(D.id, D.name, D.public).where(D.id.in_(project_ids), D.archived_at.is_(None)))).all()
    if len(rows) != len(set(project_ids)):
        raise NotFoundError("project")
    if publish and (unready := [r.name for r in rows if not r.public]):
        raise ValidationFailed(
            {"progress": i18n.gettext("only a project marked public is published: %(names)s", names=", ".join(unready[:5]))}
        )
    return await record_decision(session, principal, D.progress_publication, rows, publish, entity_type="project", what="Progress")
