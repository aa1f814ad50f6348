"""HTML pages for agreements: list with derived views, detail, forms, lifecycle, commitments (htmx)."""

import uuid
from typing import Any, TypeVar

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from agreements import approval_services, services
from agreements.schemas import (
    AgreementIn,
    AgreementKind,
    AgreementOut,
    AgreementStatus,
    AgreementUpdate,
    AgreementView,
    CommitmentIn,
    CommitmentProgressIn,
    CommitmentStatus,
    Confidentiality,
    PartyIn,
    TransitionIn,
)
from cooperation import audience, audit, comments, files, i18n, share, versions
from cooperation.auth.access import Principal, require_manager
from cooperation.dashboard import Panel
from cooperation.errors import ServiceError, StaleVersionError, ValidationFailed
from cooperation.forms import parse_form, parse_rows, stale_resubmission
from cooperation.i18n import N_
from cooperation.partners.services import home_institution_id, institution_choices
from cooperation.web import form_dict, form_version, query_bool, query_int, query_str, query_uuid, refusal_page, render, see_other

A = TypeVar("A", bound=AgreementIn)
PARTY_FIELDS = ("institution_id", "signatory_name", "signatory_title", "signed_on")
BLANK_PARTY_ROWS = 2


def _agreement_from_form(form: dict[str, Any], struct: type[A]) -> tuple[A | None, dict[str, str], list[dict[str, Any]]]:
    rows, errors, parties = parse_rows(form, "party", PARTY_FIELDS, PartyIn, "parties")
    if len(rows) < 2:
        errors["parties"] = i18n.gettext("an agreement needs at least two parties")
    fields = {k: v for k, v in form.items() if not k.startswith(("party-", "translation-"))}
    fields["parties"] = []
    try:
        data = parse_form(struct, fields, errors=errors)
    except ValidationFailed as exc:
        return None, exc.errors, rows
    data.parties = parties
    data.translations = versions.from_form(form)
    return data, {}, rows


def form_values_of(agreement: AgreementOut) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The stored agreement as the edit form shows it: its fields and its parties' rows."""
    values = {
        f: getattr(agreement, f)
        for f in (
            "reference",
            "title",
            "title_native",
            "kind",
            "summary",
            "signed_on",
            "effective_on",
            "expires_on",
            "auto_renew",
            "renewal_term_months",
            "notice_period_days",
            "confidentiality",
            "prevailing_language",
            "version",
        )
    }
    values["scope_tags"] = ", ".join(agreement.scope_tags)
    values |= versions.to_form(agreement.translations)
    parties = [
        {
            "institution_id": str(p.institution_id),
            "signatory_name": p.signatory_name or "",
            "signatory_title": p.signatory_title or "",
            "signed_on": p.signed_on.isoformat() if p.signed_on else "",
        }
        for p in agreement.parties
    ]
    return values, parties


class AgreementViews(Controller):
    path = "/agreements"
    include_in_schema = False

    @get("/", name="agreements")
    async def index(self, request: HTMXRequest, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> Template:
        view_raw = query_str(request, "view") or "all"
        if view_raw not in AgreementView.__members__.values():
            raise ValidationFailed({"view": i18n.gettext("unknown view %(value)s", value=repr(view_raw))})
        page = await services.list_agreements(
            db,
            principal,
            page=query_int(request, "page", 1),
            per_page=query_int(request, "per_page", 25),
            sort=query_str(request, "sort"),
            q=query_str(request, "q"),
            view=AgreementView(view_raw),
            days=query_int(request, "days", 90),
            status=query_str(request, "status"),
            kind=query_str(request, "kind"),
            partner_id=query_uuid(request, "partner_id"),
            country=query_str(request, "country"),
            archived=query_bool(request, "archived"),
        )
        institutions = await institution_choices(db, principal)
        template = "agreements/_table.html" if request.htmx and request.htmx.target == "agreement-table" else "agreements/list.html"
        return render(
            request,
            template,
            page=page,
            view=view_raw,
            institutions=institutions,
            countries=i18n.country_names(i18n.current()),
            statuses=list(AgreementStatus),
            kinds=list(AgreementKind),
            status_labels=services.STATUS_LABELS,
            approvals_waiting=None if template == "agreements/_table.html" else await approval_services.waiting(db, principal),
        )

    async def _form(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        values: dict[str, Any],
        parties: list[dict[str, Any]],
        errors: dict[str, str],
        *,
        agreement_id: uuid.UUID | None = None,
        status_code: int = 200,
        meanwhile: list[tuple[str, str, str]] | None = None,
    ) -> Template:
        institutions = await institution_choices(db, principal)
        rows = list(parties) + [dict.fromkeys(PARTY_FIELDS, "") for _ in range(BLANK_PARTY_ROWS)]
        return render(
            request,
            "agreements/form.html",
            meanwhile=meanwhile,
            values=values,
            parties=rows,
            errors=errors,
            agreement_id=agreement_id,
            institutions=institutions,
            kinds=list(AgreementKind),
            confidentialities=list(Confidentiality),
            status_code=status_code,
        )

    @get("/new", name="agreement_new")
    async def new(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        require_manager(principal, N_("create agreements"))
        home = await home_institution_id(db)
        parties = [{"institution_id": str(home), "signatory_name": "", "signatory_title": "", "signed_on": ""}] if home else []
        return await self._form(request, db, principal, {"kind": "cooperation_agreement", "confidentiality": "internal"}, parties, {})

    @post("/", name="agreement_create")
    async def create(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        form = await form_dict(request)
        data, errors, parties = _agreement_from_form(form, AgreementIn)
        if data is not None:
            try:
                agreement_id = await services.create_agreement_and_commit(db, principal, data)
                return see_other(f"/agreements/{agreement_id}")
            except ValidationFailed as exc:
                errors = exc.errors
        return await self._form(request, db, principal, form, parties, errors, status_code=422)

    @get("/{agreement_id:uuid}", name="agreement")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
    ) -> Template:
        agreement = await services.get_agreement(db, principal, agreement_id)
        documents = await files.list_for(db, "agreement", agreement_id, principal=principal)
        comment_list = await comments.list_for(db, principal, "agreement", agreement_id)
        owner = await files.resolve_owner(db, principal, "agreement", agreement_id)
        history = await audit.history(db, "agreement", agreement_id) if principal.reads_everything else []
        diff = await services.renewal_diff(db, principal, agreement_id) if agreement.predecessor else None
        current = await approval_services.snapshot(db, principal, agreement_id)
        conditions = approval_services.digest(current)
        approval_lines = await approval_services.history(db, principal, agreement_id, current)
        ask_peers = await approval_services.peers_for(db, agreement_id) if principal.manages_records else []
        return render(
            request,
            "agreements/detail.html",
            agreement=agreement,
            documents=documents,
            comment_list=comment_list,
            audiences=await audience.of_record(db, owner.partner_ids),
            shared=await share.state(db, "agreement", agreement_id),
            may_upload=owner.may_add,
            history=history,
            diff=diff,
            snapshot_hash=conditions,
            snapshot_short=approval_services.short(conditions),
            approval_lines=approval_lines,
            ask_peers=ask_peers,
            status_labels=services.STATUS_LABELS,
            commitment_statuses=list(CommitmentStatus),
            editable=agreement.status in {s.value for s in services.EDITABLE_STATUSES}
            and principal.manages_records
            and not agreement.archived,
            renewable=agreement.status in {s.value for s in services.RENEWABLE_STATUSES}
            and principal.manages_records
            and not agreement.archived
            and not agreement.successors,
            message=request.query_params.get("message"),
        )

    @get("/{agreement_id:uuid}/edit", name="agreement_edit")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
    ) -> Template:
        agreement = await services.get_agreement(db, principal, agreement_id)
        require_manager(principal, N_("change an agreement's terms"))
        values, parties = form_values_of(agreement)
        return await self._form(request, db, principal, values, parties, {}, agreement_id=agreement_id)

    @post("/{agreement_id:uuid}", name="agreement_update")
    async def update(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await form_dict(request)
        await services.get_agreement(db, principal, agreement_id)
        data, errors, parties = _agreement_from_form(form, AgreementUpdate)
        if data is not None:
            try:
                await services.update_agreement(db, principal, agreement_id, data)
                return see_other(f"/agreements/{agreement_id}")
            except StaleVersionError:
                # What was typed comes back with what changed meanwhile, and the stored version: saving again is a choice.
                await db.rollback()
                stored, _ = form_values_of(await services.get_agreement(db, principal, agreement_id))
                form, meanwhile = stale_resubmission(stored, form)
                return await self._form(
                    request, db, principal, form, parties, {}, agreement_id=agreement_id, status_code=409, meanwhile=meanwhile
                )
            except ValidationFailed as exc:
                errors = exc.errors
        return await self._form(request, db, principal, form, parties, errors, agreement_id=agreement_id, status_code=422)

    @post("/{agreement_id:uuid}/transition", name="agreement_transition")
    async def transition(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        try:
            await services.transition(db, principal, agreement_id, parse_form(TransitionIn, await form_dict(request)))
        except ServiceError as exc:
            return refusal_page(request, exc, f"/agreements/{agreement_id}")
        return see_other(f"/agreements/{agreement_id}")

    @post("/{agreement_id:uuid}/renew", name="agreement_renew")
    async def renew(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], agreement_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        successor_id = await services.renew(db, principal, agreement_id)
        return see_other(f"/agreements/{successor_id}")

    @post("/{agreement_id:uuid}/archive", name="agreement_archive")
    async def archive(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await services.set_archived(db, principal, agreement_id, archived=True, version=form_version(await form_dict(request)))
        return see_other(f"/agreements/{agreement_id}")

    @post("/{agreement_id:uuid}/restore", name="agreement_restore")
    async def restore(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await services.set_archived(db, principal, agreement_id, archived=False, version=form_version(await form_dict(request)))
        return see_other(f"/agreements/{agreement_id}")

    @post("/{agreement_id:uuid}/commitments", name="commitment_create")
    async def add_commitment(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await form_dict(request)
        try:
            await services.add_commitment(db, principal, agreement_id, parse_form(CommitmentIn, form))
        except ValidationFailed as exc:
            agreement = await services.get_agreement(db, principal, agreement_id)
            return render(
                request,
                "agreements/commitment_form.html",
                status_code=422,
                agreement=agreement,
                values=form,
                errors=exc.errors,
                commitment_statuses=list(CommitmentStatus),
            )
        return see_other(f"/agreements/{agreement_id}#commitments")

    @post("/{agreement_id:uuid}/commitments/{commitment_id:uuid}/progress", name="commitment_progress")
    async def commitment_progress(
        self,
        request: HTMXRequest,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
        commitment_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """Inline update: with htmx the row is swapped in place; without JavaScript the page reloads."""
        form = await form_dict(request)
        errors: dict[str, str] = {}
        try:
            commitment = await services.record_commitment_progress(
                db, principal, agreement_id, commitment_id, parse_form(CommitmentProgressIn, form)
            )
        except ServiceError as exc:
            if not request.htmx:
                raise
            errors = exc.errors or {"status": exc.detail}
            await db.rollback()
            agreement = await services.get_agreement(db, principal, agreement_id)
            commitment = next(c for c in agreement.commitments if c.id == commitment_id)
        if request.htmx:
            return render(
                request,
                "agreements/_commitment_row.html",
                c=commitment,
                agreement_id=agreement_id,
                errors=errors,
                commitment_statuses=list(CommitmentStatus),
                status_code=200,
            )
        return see_other(f"/agreements/{agreement_id}#commitments")

    @post("/{agreement_id:uuid}/commitments/{commitment_id:uuid}/archive", name="commitment_archive")
    async def archive_commitment(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
        commitment_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await services.set_commitment_archived(db, principal, agreement_id, commitment_id, version=form_version(await form_dict(request)))
        return see_other(f"/agreements/{agreement_id}#commitments")


routes = [AgreementViews]


DECISIONS_SHOWN = 10


async def dashboard_panel(db: AsyncSession, principal: Principal) -> Panel:
    expiring = await services.expiring_soon(db, principal, days=90)
    counts = await services.status_counts(db, principal)
    decisions = await services.decisions_waiting(db, principal, today=services.today())
    shown = decisions[:DECISIONS_SHOWN]  # the soonest; the count says how many more
    return Panel(
        title=i18n.gettext("Agreements"),
        template="agreements/_dashboard.html",
        order=10,
        context={
            "expiring": expiring,
            "counts": counts,
            "status_labels": services.STATUS_LABELS,
            "decisions": shown,
            "more_decisions": len(decisions) - len(shown),
        },
    )
