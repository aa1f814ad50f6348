"""JSON API for agreements, their parties and commitments (under /api/v1)."""

import uuid
from typing import Annotated, Any

from litestar import Controller, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from agreements import approval_services, services
from agreements.schemas import (
    AgreementIn,
    AgreementKind,
    AgreementOut,
    AgreementPage,
    AgreementStatus,
    AgreementUpdate,
    AgreementView,
    CommitmentIn,
    CommitmentOut,
    CommitmentProgressIn,
    CommitmentUpdate,
    PartyUpdate,
    RenewalDiff,
    TransitionIn,
)
from cooperation import audit
from cooperation.auth.access import Principal
from cooperation.errors import NotFoundError
from cooperation.records import DEFAULT_PER_PAGE, VersionIn
from cooperation.web import PageNumber, PerPage


class AgreementApi(Controller):
    path = "/api/v1/agreements"
    tags = ("agreements",)

    @get("/", name="api_agreements")
    async def list_agreements(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        sort: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        view: FromQuery[AgreementView] = AgreementView.ALL,
        days: Annotated[int, QueryParameter(ge=0, le=3650, description="Window for view=expiring")] = 90,
        status: FromQuery[AgreementStatus | None] = None,
        kind: FromQuery[AgreementKind | None] = None,
        partner_id: FromQuery[uuid.UUID | None] = None,
        country: FromQuery[str | None] = None,
        archived: FromQuery[bool] = False,
    ) -> AgreementPage:
        """Agreements you may see. Views: in_force, expiring (within `days`), expired_not_renewed.
        `q` searches reference, title, summary and scope (diacritics optional); `sort` e.g. `-expires_on`."""
        return await services.list_agreements(
            db,
            principal,
            page=page,
            per_page=per_page,
            sort=sort,
            q=q,
            view=view,
            days=days,
            status=status.value if status else None,
            kind=kind.value if kind else None,
            partner_id=partner_id,
            country=country,
            archived=archived,
        )

    @post("/", name="api_agreement_create")
    async def create_agreement(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], data: JSONBody[AgreementIn]
    ) -> AgreementOut:
        """Create an agreement as a draft with its parties (two or more)."""
        agreement_id = await services.create_agreement_and_commit(db, principal, data)
        return await services.get_agreement(db, principal, agreement_id)

    @get("/{agreement_id:uuid}", name="api_agreement")
    async def get_agreement(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], agreement_id: FromPath[uuid.UUID]
    ) -> AgreementOut:
        """One agreement with its parties, commitments (progress computed where a programme, project or linked records measure it) and
        renewal chain."""
        return await services.get_agreement(db, principal, agreement_id)

    @get("/{agreement_id:uuid}/snapshot", name="api_agreement_snapshot")
    async def get_snapshot(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], agreement_id: FromPath[uuid.UUID]
    ) -> dict[str, Any]:
        """The agreement's cooperation conditions as the canonical snapshot two libraries approve, with its SHA-256 over the
        RFC 8785 (JSON Canonicalization Scheme) serialization: parties and signatories, dates, renewal terms, commitments,
        the signed texts' checksums."""
        values = await approval_services.snapshot(db, principal, agreement_id)
        return {"snapshot": values, "sha256": approval_services.digest(values)}

    @put("/{agreement_id:uuid}", name="api_agreement_update")
    async def update_agreement(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
        data: JSONBody[AgreementUpdate],
    ) -> AgreementOut:
        """Replace the terms of a draft or negotiating agreement; `version` must be the one you read (409 otherwise)."""
        await services.update_agreement(db, principal, agreement_id, data)
        return await services.get_agreement(db, principal, agreement_id)

    @post("/{agreement_id:uuid}/transition", name="api_agreement_transition", status_code=200)
    async def transition(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
        data: JSONBody[TransitionIn],
    ) -> AgreementOut:
        """Move along the lifecycle draft → negotiating → signed → in force → expired / terminated / superseded.
        A refused move answers 409 with the reason."""
        await services.transition(db, principal, agreement_id, data)
        return await services.get_agreement(db, principal, agreement_id)

    @post("/{agreement_id:uuid}/renew", name="api_agreement_renew", status_code=201)
    async def renew(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], agreement_id: FromPath[uuid.UUID]
    ) -> AgreementOut:
        """Draft the successor of this agreement, linked to it, with its parties and commitments."""
        successor_id = await services.renew(db, principal, agreement_id)
        return await services.get_agreement(db, principal, successor_id)

    @get("/{agreement_id:uuid}/renewal-diff", name="api_agreement_renewal_diff")
    async def renewal_diff(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], agreement_id: FromPath[uuid.UUID]
    ) -> RenewalDiff | None:
        """What changed between this agreement and the one it renews; null when it renews none."""
        return await services.renewal_diff(db, principal, agreement_id)

    @post("/{agreement_id:uuid}/archive", name="api_agreement_archive", status_code=200)
    async def archive(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
        data: JSONBody[VersionIn],
    ) -> AgreementOut:
        """Archive the agreement: kept with its history, no longer listed; `version` must be the one you read."""
        await services.set_archived(db, principal, agreement_id, archived=True, version=data.version)
        return await services.get_agreement(db, principal, agreement_id)

    @post("/{agreement_id:uuid}/restore", name="api_agreement_restore", status_code=200)
    async def restore(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
        data: JSONBody[VersionIn],
    ) -> AgreementOut:
        """Restore an archived agreement."""
        await services.set_archived(db, principal, agreement_id, archived=False, version=data.version)
        return await services.get_agreement(db, principal, agreement_id)

    @get("/{agreement_id:uuid}/history", name="api_agreement_history")
    async def history(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], agreement_id: FromPath[uuid.UUID]
    ) -> list[audit.AuditEntry]:
        """Every change to the agreement, newest first (staff only)."""
        await services.get_agreement(db, principal, agreement_id)
        if not principal.reads_everything:
            raise NotFoundError("history")
        return await audit.history(db, "agreement", agreement_id)

    @put("/{agreement_id:uuid}/parties/{institution_id:uuid}", name="api_agreement_party_update")
    async def update_party(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
        institution_id: FromPath[uuid.UUID],
        data: JSONBody[PartyUpdate],
    ) -> AgreementOut:
        """A party's signatory and signing date (a partner: its own institution only)."""
        await services.update_party(db, principal, agreement_id, institution_id, data)
        return await services.get_agreement(db, principal, agreement_id)

    @post("/{agreement_id:uuid}/commitments", name="api_commitment_create")
    async def add_commitment(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
        data: JSONBody[CommitmentIn],
    ) -> CommitmentOut:
        """Add a commitment to the agreement (what a party undertakes, with an optional due date or yearly target)."""
        commitment_id = await services.add_commitment(db, principal, agreement_id, data)
        agreement = await services.get_agreement(db, principal, agreement_id)
        return next(c for c in agreement.commitments if c.id == commitment_id)

    @put("/{agreement_id:uuid}/commitments/{commitment_id:uuid}", name="api_commitment_update")
    async def update_commitment(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
        commitment_id: FromPath[uuid.UUID],
        data: JSONBody[CommitmentUpdate],
    ) -> CommitmentOut:
        """Change a commitment's text, responsible institution, due date or yearly target (coordinators)."""
        await services.update_commitment(db, principal, agreement_id, commitment_id, data)
        agreement = await services.get_agreement(db, principal, agreement_id)
        return next(c for c in agreement.commitments if c.id == commitment_id)

    @patch("/{agreement_id:uuid}/commitments/{commitment_id:uuid}/progress", name="api_commitment_progress")
    async def commitment_progress(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
        commitment_id: FromPath[uuid.UUID],
        data: JSONBody[CommitmentProgressIn],
    ) -> CommitmentOut:
        """Report status and progress (a partner: on commitments its institution is responsible for)."""
        return await services.record_commitment_progress(db, principal, agreement_id, commitment_id, data)

    @post("/{agreement_id:uuid}/commitments/{commitment_id:uuid}/archive", name="api_commitment_archive", status_code=204)
    async def archive_commitment(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        agreement_id: FromPath[uuid.UUID],
        commitment_id: FromPath[uuid.UUID],
        data: JSONBody[VersionIn],
    ) -> None:
        """Archive a commitment of the agreement (kept in the history)."""
        await services.set_commitment_archived(db, principal, agreement_id, commitment_id, version=data.version)


routes = [AgreementApi]
