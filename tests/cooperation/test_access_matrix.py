"""The access matrix: every registered route and method, for every role, over records shared with partner A
only, with B only, with both, and internal. Each cell's status is asserted; a route without an entry fails.

Partner A works at NLC, partner B at BNF; the home institution is NLV; NDL shares nothing with either.
"Allowed" writes may still answer 409/422 once an earlier cell changed the record: what is asserted is
that the request got past access control (never 401/403/404), and that denied cells are exactly 403 or 404.
"""

import dataclasses
import io
import re
import uuid
from dataclasses import dataclass
from typing import Any

from litestar.routes import HTTPRoute
from PIL import Image

from cooperation.auth.middleware import PUBLIC_OPT
from cooperation.auth.models import IdentityProvider
from cooperation.partners.models import Person
from tests.agreements.helpers import agreement_payload
from tests.conftest import PASSWORD, Client, http_client


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


ROLES = ["anonymous", "admin", "coordinator", "director", "partner_a", "partner_b"]
STAFF = {"admin", "coordinator", "director"}
MANAGERS = {"admin", "coordinator"}
ALLOWED = {200, 201, 204, 303, 409, 422}
PNG = _png()
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

# Which agreement each partner sees; which institutions (and their people) each partner sees.
AGREEMENTS_SEEN = {"partner_a": {"A", "AB"}, "partner_b": {"B", "AB"}}
VISITS_SEEN = {"partner_a": {"VA"}, "partner_b": {"VB"}}
INSTITUTIONS_SEEN = {"partner_a": {"NLC", "NLV", "BNF"}, "partner_b": {"BNF", "NLV", "NLC"}}
OWN_INSTITUTION = {"partner_a": "NLC", "partner_b": "BNF"}
# The partner party (and the institution responsible for the test commitment) of each agreement.
PARTNER_PARTY = {"A": "NLC", "B": "BNF", "AB": "NLC", "INT": "NLC"}


@dataclass
class Scene:
    agreements: dict[str, str]
    commitments: dict[str, str]
    attachments: dict[str, str]
    comments: dict[str, str]
    visits: dict[str, str]
    follow_ups: dict[str, str]
    photos: dict[str, str]
    exchanges: dict[str, str]
    experts: dict[str, str]
    institutions: dict[str, str]
    people: dict[str, str]
    provider: str
    token: str
    programmes: dict[str, str]
    projects: dict[str, str]
    report: str
    subscription: str
    invitation: str = ""
    user: str = ""
    gift: str = ""
    arrangement: str = ""  # with NLC (partner_a's institution), under an exchange-of-publications agreement
    shipment: str = ""  # sent to NLC under it
    peer: str = ""  # NLC's instance, paired (at an address where nothing answers: unpairing tells it in vain)
    webhook: str = ""  # the administrator's, for visits
    approval: str = ""  # a request received from NLC's instance to approve agreement A
    harvest_sources: dict[str, str] = dataclasses.field(default_factory=dict)  # the lead's endpoint, per project (VA/VB)


def expect(kind: str, role: str, target: str | None) -> set[int]:
    """The statuses a cell may answer, from the access policy written out as plainly as possible."""
    if role == "anonymous":
        return {401, 303}
    staff, manager, partner = role in STAFF, role in MANAGERS, role.startswith("partner")
    sees_agreement = staff or (target in AGREEMENTS_SEEN.get(role, set()))
    sees_institution = staff or (target in INSTITUTIONS_SEEN.get(role, set()))
    own_part = partner and target is not None and PARTNER_PARTY.get(target) == OWN_INSTITUTION[role]
    if kind == "any":  # every signed-in person
        return {200, 201, 202, 204, 303, 409}
    if kind == "subscription.own":  # the coordinator's subscription: its owner and administrators
        return ALLOWED if role in ("coordinator", "admin") else {404}
    if kind == "report.resend":  # the coordinator's run: only an administrator may send it again
        return ALLOWED if role == "admin" else ({403} if role == "coordinator" else {404})
    if kind == "report.own":  # the coordinator's report: its owner, and administrators, find it
        return {200, 422} if role in ("coordinator", "admin") else {404}
    if kind == "self":  # one's own profile and password: everyone signed in (an empty form is a 422)
        return ALLOWED
    if kind == "institution.home":  # administrators name the home institution
        return ALLOWED if role == "admin" else {403}
    if kind == "history":  # an audit trail names records a partner may not see: the department's only
        return {200} if staff else {404}
    if kind == "visit.read":
        return {200} if staff or target in VISITS_SEEN.get(role, set()) else {404}
    if kind == "delegation":  # the body lists nobody: staff and the visiting institution's partner may set it
        if not (staff or target in VISITS_SEEN.get(role, set())):
            return {404}
        return ALLOWED if manager or partner else {403}
    if kind == "exchange.propose":  # the body proposes an NLC expert: staff and NLC's partner may
        return ALLOWED if manager or role == "partner_a" else ({422} if role == "partner_b" else {403})
    if kind == "exchange.new":  # the proposal form: staff who manage records and partners
        return {200} if manager or partner else {403}
    if kind == "exchange.own":  # the expert's own institution (or staff) changes it
        if not (staff or target in VISITS_SEEN.get(role, set())):
            return {404}
        return ALLOWED if manager or partner else {403}
    if kind == "visit.party":  # the follow-up owned by the visiting institution: its partner may update it
        if not (staff or target in VISITS_SEEN.get(role, set())):
            return {404}
        return ALLOWED if manager or partner else {403}
    if kind == "visit.manage":
        return ALLOWED if manager else ({403} if staff or target in VISITS_SEEN.get(role, set()) else {404})
    if kind == "ledger.read":  # the exchange with NLC: the department and NLC's partner
        return {200} if staff or role == "partner_a" else {404}
    if kind == "ledger.manage":
        return ALLOWED if manager else ({403} if staff or role == "partner_a" else {404})
    if kind == "ledger.acknowledge":  # NLC's partner acknowledges what was sent to it
        return ALLOWED if manager or role == "partner_a" else ({403} if staff else {404})
    if kind == "register.read":  # the gift register: the department's own; anyone else is told it does not exist
        return {200} if staff else {404}
    if kind == "register.manage":
        return ALLOWED if manager else ({403} if staff else {404})
    if kind == "schema.missing":
        return {404}
    if kind == "admin":
        return ALLOWED if role == "admin" else {403}
    if kind == "create":  # new records of the home institution's staff
        return ALLOWED if manager else {403}
    if kind == "agreement.read":
        return {200} if sees_agreement else {404}
    if kind == "agreement.manage":
        return ALLOWED if manager else ({403} if sees_agreement else {404})
    if kind == "agreement.party":  # a party's own part: its signatory, its commitments' progress, its documents
        if not sees_agreement:
            return {404}
        return ALLOWED if manager or own_part else {403}
    if kind == "agreement.upload":
        if not sees_agreement:
            return {404}
        return ALLOWED if manager or partner else {403}
    if kind == "comment.manage":  # the coordinator's comment: only managers (and its author) may remove it
        return ALLOWED if manager else ({403} if sees_agreement else {404})
    if kind == "document.manage":
        return ALLOWED if manager else ({403} if sees_agreement else {404})
    if kind == "institution.read":
        return {200} if sees_institution else {404}
    if kind == "institution.manage":
        return ALLOWED if manager else ({403} if sees_institution else {404})
    if kind == "person.manage":
        if not sees_institution:
            return {404}
        return ALLOWED if manager or (partner and target == OWN_INSTITUTION[role]) else {403}
    if kind == "person.create":  # the body names NLC: only staff and NLC's own partner may add there
        if manager or role == "partner_a":
            return ALLOWED
        return {422} if role == "partner_b" else {403}
    if kind == "token.own":  # the coordinator's token: only its owner finds it
        return ALLOWED if role == "coordinator" else {404}
    raise AssertionError(f"unknown kind {kind}")


# route name -> (kind, which targets, how to send it). A new route without an entry fails the test.
AGREEMENT_TARGETS = ["A", "B", "AB", "INT"]
# VA: an incoming visit from NLC and an NLC expert coming to NLV (partner A's); VB: the same from BnF (partner B's).
VISIT_TARGETS = ["VA", "VB"]
EXCHANGE_TARGETS = ["VA", "VB"]
INSTITUTION_TARGETS = ["NLC", "BNF", "NLV", "NDL"]
ROUTES: dict[str, tuple[str, list[str] | None]] = {
    "home": ("any", None),
    "agreements": ("any", None),
    "institutions": ("any", None),
    "people": ("any", None),
    "api_agreements": ("any", None),
    "api_institutions": ("any", None),
    "api_people": ("any", None),
    "account_tokens": ("any", None),
    "api_tokens": ("any", None),
    "account_token_create": ("any", None),
    "api_token_create": ("any", None),
    "account_token_revoke": ("token.own", None),
    "api_token_revoke": ("token.own", None),
    "logout": ("any", None),
    "agreement_new": ("create", None),
    "agreement_create": ("create", None),
    "api_agreement_create": ("create", None),
    "institution_new": ("create", None),
    "institution_create": ("create", None),
    "api_institution_create": ("create", None),
    "person_new": ("any", None),
    "person_create": ("person.create", None),
    "api_person_create": ("person.create", None),
    "agreement": ("agreement.read", AGREEMENT_TARGETS),
    "api_agreement": ("agreement.read", AGREEMENT_TARGETS),
    "api_agreement_snapshot": ("agreement.read", AGREEMENT_TARGETS),
    "api_agreement_history": ("history", AGREEMENT_TARGETS),
    "api_agreement_renewal_diff": ("agreement.read", AGREEMENT_TARGETS),
    "agreement_edit": ("agreement.manage", AGREEMENT_TARGETS),
    "agreement_update": ("agreement.manage", AGREEMENT_TARGETS),
    "api_agreement_update": ("agreement.manage", AGREEMENT_TARGETS),
    "agreement_transition": ("agreement.manage", AGREEMENT_TARGETS),
    "api_agreement_transition": ("agreement.manage", AGREEMENT_TARGETS),
    "agreement_renew": ("agreement.manage", AGREEMENT_TARGETS),
    "api_agreement_renew": ("agreement.manage", AGREEMENT_TARGETS),
    "agreement_archive": ("agreement.manage", AGREEMENT_TARGETS),
    "api_agreement_archive": ("agreement.manage", AGREEMENT_TARGETS),
    "agreement_restore": ("agreement.manage", AGREEMENT_TARGETS),
    "api_agreement_restore": ("agreement.manage", AGREEMENT_TARGETS),
    "commitment_create": ("agreement.manage", AGREEMENT_TARGETS),
    "api_commitment_create": ("agreement.manage", AGREEMENT_TARGETS),
    "api_commitment_update": ("agreement.manage", AGREEMENT_TARGETS),
    "commitment_archive": ("agreement.manage", AGREEMENT_TARGETS),
    "api_commitment_archive": ("agreement.manage", AGREEMENT_TARGETS),
    "commitment_progress": ("agreement.party", AGREEMENT_TARGETS),
    "api_commitment_progress": ("agreement.party", AGREEMENT_TARGETS),
    "api_agreement_party_update": ("agreement.party", AGREEMENT_TARGETS),
    "attachment_upload": ("agreement.upload", AGREEMENT_TARGETS),
    "api_attachment_upload": ("agreement.upload", AGREEMENT_TARGETS),
    "attachment_download": ("agreement.read", AGREEMENT_TARGETS),
    "api_attachment_download": ("agreement.read", AGREEMENT_TARGETS),
    "attachment_archive": ("document.manage", AGREEMENT_TARGETS),
    "institution": ("institution.read", INSTITUTION_TARGETS),
    "api_institution": ("institution.read", INSTITUTION_TARGETS),
    "institution_edit": ("institution.manage", INSTITUTION_TARGETS),
    "institution_update": ("institution.manage", INSTITUTION_TARGETS),
    "api_institution_update": ("institution.manage", INSTITUTION_TARGETS),
    "institution_archive": ("institution.manage", ["NLC", "BNF", "NDL"]),
    "institution_home": ("institution.home", ["NLV"]),  # already home: a no-op for an administrator
    "api_institution_home": ("institution.home", None),
    "api_institution_archive": ("institution.manage", ["NLC", "BNF", "NDL"]),
    "institution_restore": ("institution.manage", ["NLC", "BNF", "NDL"]),
    "api_institution_restore": ("institution.manage", ["NLC", "BNF", "NDL"]),
    "person": ("institution.read", INSTITUTION_TARGETS),
    "api_person": ("institution.read", INSTITUTION_TARGETS),
    "person_edit": ("person.manage", INSTITUTION_TARGETS),
    "person_update": ("person.manage", INSTITUTION_TARGETS),
    "api_person_update": ("person.manage", INSTITUTION_TARGETS),
    "person_archive": ("person.manage", INSTITUTION_TARGETS),
    "api_person_archive": ("person.manage", INSTITUTION_TARGETS),
    "person_restore": ("person.manage", INSTITUTION_TARGETS),
    "api_person_restore": ("person.manage", INSTITUTION_TARGETS),
    "person_account": ("institution.manage", INSTITUTION_TARGETS),  # linking a person to an account: managers only
    "api_person_account": ("institution.manage", INSTITUTION_TARGETS),
    "peers": ("admin", None),
    "institution_logo": ("admin", None),  # the home institution's logo on reports (NLC is not home: 422 for the admin)
    "webhooks": ("admin", None),
    "webhook_create": ("admin", None),
    "webhook_state": ("admin", None),
    "peer_code_create": ("admin", None),
    "peer_pair": ("admin", None),
    "peer_unpair": ("admin", None),
    # Approvals between instances: the department's (a partner is told they do not exist); coordinators answer.
    "approvals": ("register.read", None),
    "approval": ("register.read", None),
    "approval_answer": ("register.manage", None),
    "approval_link": ("register.manage", None),
    "agreement_approval_ask": ("agreement.manage", AGREEMENT_TARGETS),
    "api_identity_providers": ("admin", None),
    "api_identity_provider": ("admin", None),
    "api_identity_provider_create": ("admin", None),
    "api_identity_provider_update": ("admin", None),
    "api_identity_provider_enabled": ("admin", None),
    "api_comments": ("agreement.read", AGREEMENT_TARGETS),
    "api_comment_create": ("agreement.upload", AGREEMENT_TARGETS),
    "comment_create": ("agreement.upload", AGREEMENT_TARGETS),
    "comment_archive": ("comment.manage", AGREEMENT_TARGETS),
    "comment_audience": ("comment.manage", AGREEMENT_TARGETS),
    "api_comment_audience": ("comment.manage", AGREEMENT_TARGETS),
    "attachment_audience": ("document.manage", AGREEMENT_TARGETS),
    "api_attachment_audience": ("document.manage", AGREEMENT_TARGETS),
    "publication_waiting": ("create", None),
    "share_confirm": ("visit.manage", VISIT_TARGETS),
    "share_submit": ("visit.manage", VISIT_TARGETS),
    "view_as_start": ("create", None),  # not posted here: it would turn the rest of the role's cells into NLC's
    "view_as_stop": ("any", None),
    "publication_decide": ("create", None),
    "api_follow_ups_mine": ("any", None),
    "api_visit_delegation": ("delegation", VISIT_TARGETS),
    "api_exchanges": ("any", None),
    "api_exchange": ("visit.read", EXCHANGE_TARGETS),
    "api_exchange_create": ("exchange.propose", None),
    "api_exchange_update": ("exchange.own", EXCHANGE_TARGETS),
    "api_exchange_confirm": ("exchange.own", EXCHANGE_TARGETS),
    "api_exchange_transition": ("visit.manage", EXCHANGE_TARGETS),
    "exchanges": ("any", None),
    "exchange_new": ("exchange.new", None),
    "exchange_create": ("exchange.propose", None),
    "exchange": ("visit.read", EXCHANGE_TARGETS),
    "exchange_edit": ("exchange.own", EXCHANGE_TARGETS),
    "exchange_update": ("exchange.own", EXCHANGE_TARGETS),
    "exchange_confirm": ("exchange.own", EXCHANGE_TARGETS),
    "exchange_transition": ("visit.manage", EXCHANGE_TARGETS),
    "calendar_month": ("any", None),
    "account_calendar": ("any", None),
    "account_calendar_create": ("any", None),
    "account_calendar_revoke": ("any", None),
    "api_visit_photos": ("visit.read", VISIT_TARGETS),
    "visit_photo_thumbnail": ("visit.read", VISIT_TARGETS),
    "api_visit_photo_create": ("visit.party", VISIT_TARGETS),
    "visit_photo_create": ("visit.party", VISIT_TARGETS),
    "api_visit_photos_arrange": ("visit.manage", VISIT_TARGETS),
    "visit_photos_arrange": ("visit.manage", VISIT_TARGETS),
    "api_follow_ups": ("visit.read", VISIT_TARGETS),
    "api_follow_up_create": ("visit.manage", VISIT_TARGETS),
    "api_follow_up_progress": ("visit.party", VISIT_TARGETS),
    "follow_up_progress": ("visit.party", VISIT_TARGETS),
    "visits": ("any", None),
    "programmes": ("any", None),
    "visit_archive": ("visit.manage", ["VA", "VB"]),
    "api_visit_archive": ("visit.manage", ["VA", "VB"]),
    "visit_restore": ("visit.manage", ["VA", "VB"]),
    "api_visit_restore": ("visit.manage", ["VA", "VB"]),
    "exchange_archive": ("visit.manage", ["VA", "VB"]),
    "publications": ("any", None),
    "publications_csv": ("any", None),
    "publications_report_csv": ("any", None),
    "arrangement_new": ("create", None),
    "arrangement_create": ("create", None),
    "arrangement": ("ledger.read", None),
    "arrangement_edit": ("ledger.manage", None),
    "arrangement_update": ("ledger.manage", None),
    "arrangement_status": ("ledger.manage", None),
    "arrangement_archive": ("ledger.manage", None),
    "arrangement_restore": ("ledger.manage", None),
    "api_arrangement_archive": ("ledger.manage", None),
    "api_arrangement_restore": ("ledger.manage", None),
    "shipment_new": ("create", None),
    "shipment_create": ("create", None),
    "shipment": ("ledger.read", None),
    "shipment_items_export": ("ledger.read", None),
    "shipment_edit": ("ledger.manage", None),
    "shipment_update": ("ledger.manage", None),
    "shipment_items_csv": ("ledger.manage", None),
    "shipment_status": ("ledger.acknowledge", None),
    "shipment_archive": ("ledger.manage", None),
    "shipment_restore": ("ledger.manage", None),
    "api_shipment_archive": ("ledger.manage", None),
    "api_shipment_restore": ("ledger.manage", None),
    "gifts": ("register.read", None),
    "gifts_csv": ("register.read", None),
    "gift": ("register.read", None),
    "gift_new": ("register.manage", None),
    "gift_create": ("register.manage", None),
    "gift_edit": ("register.manage", None),
    "gift_update": ("register.manage", None),
    "gift_archive": ("register.manage", None),
    "gift_restore": ("register.manage", None),
    "api_gift_archive": ("register.manage", None),
    "api_gift_restore": ("register.manage", None),
    "api_exchange_archive": ("visit.manage", ["VA", "VB"]),
    "exchange_restore": ("visit.manage", ["VA", "VB"]),
    "api_exchange_restore": ("visit.manage", ["VA", "VB"]),
    "programme_archive": ("visit.manage", ["VA", "VB"]),
    "api_programme_archive": ("visit.manage", ["VA", "VB"]),
    "programme_restore": ("visit.manage", ["VA", "VB"]),
    "api_programme_restore": ("visit.manage", ["VA", "VB"]),
    "project_archive": ("visit.manage", ["VA", "VB"]),
    "api_project_archive": ("visit.manage", ["VA", "VB"]),
    "project_restore": ("visit.manage", ["VA", "VB"]),
    "api_project_restore": ("visit.manage", ["VA", "VB"]),
    "reports": ("any", None),
    "report_request": ("any", None),
    "api_report_request": ("any", None),
    "api_reports": ("any", None),
    "report_run": ("report.own", None),
    "report_subscriptions": ("any", None),
    "report_subscription_create": ("any", None),
    "api_report_subscriptions": ("any", None),
    "api_report_subscription_create": ("any", None),
    "report_subscription_stop": ("subscription.own", None),
    "report_subscription_send_now": ("subscription.own", None),  # "Send me one now": its owner's alone
    "report_subscription_edit": ("subscription.own", None),
    "report_subscription_update": ("subscription.own", None),
    "api_report_subscription": ("subscription.own", None),
    "api_report_subscription_update": ("subscription.own", None),
    "report_resend": ("report.resend", None),
    "api_report_resend": ("report.resend", None),
    "report_pdf": ("report.own", None),
    "api_report": ("report.own", None),
    "api_programmes": ("any", None),
    "programme_new": ("create", None),
    "programme_create": ("create", None),
    "api_programme_create": ("create", None),
    "programme": ("visit.read", ["VA", "VB"]),
    "api_programme": ("visit.read", ["VA", "VB"]),
    "programme_edit": ("visit.manage", ["VA", "VB"]),
    "programme_update": ("visit.manage", ["VA", "VB"]),
    "api_programme_update": ("visit.manage", ["VA", "VB"]),
    "projects": ("any", None),
    "api_projects": ("any", None),
    "project_new": ("create", None),
    "project_create": ("create", None),
    "api_project_create": ("create", None),
    "project": ("visit.read", ["VA", "VB"]),
    "api_project": ("visit.read", ["VA", "VB"]),
    "project_edit": ("visit.manage", ["VA", "VB"]),
    "project_update": ("visit.manage", ["VA", "VB"]),
    "api_project_update": ("visit.manage", ["VA", "VB"]),
    "project_progress": ("visit.party", ["VA", "VB"]),
    # A participant's harvest endpoint: the department, or that participant's own librarian.
    "project_harvest_source": ("visit.party", ["VA", "VB"]),
    "project_harvest_run": ("visit.party", ["VA", "VB"]),
    "project_harvest_remove": ("visit.party", ["VA", "VB"]),
    "api_project_progress": ("visit.party", ["VA", "VB"]),
    "project_progress_csv": ("visit.party", ["VA", "VB"]),
    "api_project_progress_csv": ("visit.party", ["VA", "VB"]),
    "visit_new": ("create", None),
    "visit_create": ("create", None),
    "visit_form_row": ("create", None),  # a blank row of the visit form
    "visit_form_overlaps": ("create", None),  # who else is away then: the form's warning, for those who record visits
    "visit_form_paste": ("create", None),  # the rows pasted lines will add: the form's preview
    "visit": ("visit.read", VISIT_TARGETS),
    "visit_edit": ("visit.manage", VISIT_TARGETS),
    "visit_update": ("visit.manage", VISIT_TARGETS),
    "visit_transition": ("visit.manage", VISIT_TARGETS),
    "visit_delegation": ("delegation", VISIT_TARGETS),
    "visit_delegation_update": ("delegation", VISIT_TARGETS),
    "follow_up_create": ("visit.manage", VISIT_TARGETS),
    "api_visits": ("any", None),
    "api_visit_create": ("create", None),
    "api_visit": ("visit.read", VISIT_TARGETS),
    "api_visit_history": ("history", VISIT_TARGETS),
    "api_visit_update": ("visit.manage", VISIT_TARGETS),
    "api_visit_transition": ("visit.manage", VISIT_TARGETS),
    "identity_providers": ("admin", None),
    "account_profile": ("any", None),
    "account_two_factor": ("any", None),
    "account_two_factor_start": ("self", None),
    "account_two_factor_confirm": ("self", None),
    "account_two_factor_disable": ("self", None),
    "account_profile_update": ("self", None),
    "account_password": ("self", None),
    "admin_users": ("admin", None),
    "admin_user_invite": ("admin", None),
    "admin_user_update": ("admin", None),
    "admin_invitation_resend": ("admin", None),
    "admin_invitation_revoke": ("admin", None),
    "api_users": ("admin", None),
    "api_user": ("admin", None),
    "api_user_update": ("admin", None),
    "api_invitations": ("admin", None),
    "api_invitation_create": ("admin", None),
    "api_invitation_resend": ("admin", None),
    "api_invitation_revoke": ("admin", None),
    "identity_provider_create": ("admin", None),
    "identity_provider_toggle": ("admin", None),
    "schema:/api/v1/schema": ("any", None),
    "schema:/api/v1/schema/openapi.json": ("any", None),
    "schema:/api/v1/schema/{path:str}": ("schema.missing", None),  # Litestar's "no such schema page"
}
PARAM = re.compile(r"\{(\w+):(\w+)\}")


async def _invitation(app, world) -> str:
    """An open invitation, written directly (the scene is built by a coordinator, who may not invite)."""
    from datetime import timedelta

    from cooperation.auth.models import Invitation
    from cooperation.db import utcnow

    async with app.state.session_factory() as session:
        invitation = Invitation(
            email="invited@nlv.example",
            name="Invited",
            role="director",
            institution_id=world.home,
            token_hash=uuid.uuid4().hex,
            expires_at=utcnow() + timedelta(hours=72),
        )
        session.add(invitation)
        await session.commit()
        return str(invitation.id)


def routes(app) -> list[tuple[str, str, str]]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.opt.get(PUBLIC_OPT):
                continue
            name = handler.name if handler.name and not handler.name.endswith("openapi_json") else f"schema:{route.path}"
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                found.append((method, route.path, name))
    return found


async def build_scene(app, world, coordinator: Client) -> Scene:
    codes = {"NLV": world.home, "NLC": world.nlc, "BNF": world.bnf, "NDL": world.ndl}
    agreements, commitments, attachments, comments = {}, {}, {}, {}
    for key, parties, confidentiality in [
        ("A", ["NLV", "NLC"], "parties"),
        ("B", ["NLV", "BNF"], "parties"),
        ("AB", ["NLV", "NLC", "BNF"], "parties"),
        ("INT", ["NLV", "NLC"], "internal"),
    ]:
        payload = agreement_payload([codes[c] for c in parties], reference=f"M-{key}", confidentiality=confidentiality)
        agreement = (await coordinator.api("POST", "/api/v1/agreements", json=payload)).json()
        agreements[key] = agreement["id"]
        commitment = await coordinator.api(
            "POST",
            f"/api/v1/agreements/{agreement['id']}/commitments",
            json={"text": "Exchange experts", "responsible_institution_id": str(codes[PARTNER_PARTY[key]])},
        )
        commitments[key] = commitment.json()["id"]
        document = await coordinator.api(
            "POST",
            f"/api/v1/attachments/agreement/{agreement['id']}",
            files={"file": ("a.pdf", PDF, "application/pdf")},
            data={"audience": "partners"},
        )
        attachments[key] = document.json()["id"]
        comment = await coordinator.api(
            "POST", f"/api/v1/comments/agreement/{agreement['id']}", json={"body": "Noted.", "audience": "partners"}
        )
        comments[key] = comment.json()["id"]
    people = {}
    async with app.state.session_factory() as db:
        for code, institution_id in codes.items():
            person = Person(name=f"Person at {code}", institution_id=institution_id)
            db.add(person)
            await db.flush()
            people[code] = str(person.id)
        provider = IdentityProvider(
            institution_id=world.nlc,
            issuer="https://idp.nlc.invalid",
            client_id="x",
            client_secret_encrypted="x",
            discovery={"authorization_endpoint": "https://idp.nlc.invalid/auth"},
        )
        db.add(provider)
        await db.commit()
    token = (await coordinator.api("POST", "/api/v1/tokens", json={"name": "matrix"})).json()["id"]
    visits, follow_ups, photos, exchanges, experts = {}, {}, {}, {}, {}
    for key, visitor in (("VA", world.nlc), ("VB", world.bnf)):
        payload = {
            "title": f"Visit {key}",
            "direction": "incoming",
            "host_institution_id": str(world.home),
            "visiting_institution_id": str(visitor),
            "starts_on": "2026-03-02",
            "ends_on": "2026-03-04",
            "shared": True,
        }
        visits[key] = (await coordinator.api("POST", "/api/v1/visits", json=payload)).json()["id"]
        action = await coordinator.api(
            "POST", f"/api/v1/follow-ups/visit/{visits[key]}", json={"text": "Send the report", "responsible_institution_id": str(visitor)}
        )
        follow_ups[key] = action.json()["id"]
        photo = await coordinator.api(
            "POST", f"/api/v1/visits/{visits[key]}/photos", files={"file": ("p.png", PNG, "image/png")}, data={"audience": "partners"}
        )
        assert photo.status_code in (200, 201), photo.text
        photos[key] = photo.json()["id"]
        expert = await coordinator.api("POST", "/api/v1/people", json={"name": f"Expert {key}", "institution_id": str(visitor)})
        exchange = await coordinator.api(
            "POST",
            "/api/v1/exchanges",
            json={
                "expert_person_id": expert.json()["id"],
                "host_institution_id": str(world.home),
                "starts_on": "2026-05-04",
                "ends_on": "2026-05-08",
                "field_of_work": "Conservation",
                "shared": True,
            },
        )
        exchanges[key] = exchange.json()["id"]
        experts[key] = expert.json()["id"]
    # PA/JA: a programme and a project with NLC (partner A's); PB/JB: the same with BnF (partner B's). Keyed VA/VB.
    programmes, projects = {}, {}
    for key, partner in (("VA", world.nlc), ("VB", world.bnf)):
        programme = await coordinator.api(
            "POST",
            "/api/v1/programmes",
            json={
                "name": f"Programme {key}",
                "starts_on": "2026-01-01",
                "ends_on": "2028-12-31",
                "institution_ids": [str(world.home), str(partner)],
                "quotas": [{"direction": "incoming", "max_per_year": 3}],
                "shared": True,
            },
        )
        programmes[key] = programme.json()["id"]
        project = await coordinator.api(
            "POST",
            "/api/v1/projects",
            json={
                "name": f"Project {key}",
                "lead_institution_id": str(partner),
                "starts_on": "2025-01-01",
                "target_volumes": 1000,
                "shared": True,
            },
        )
        projects[key] = project.json()["id"]
    return Scene(
        agreements,
        commitments,
        attachments,
        comments,
        visits,
        follow_ups,
        photos,
        exchanges,
        experts,
        {k: str(v) for k, v in codes.items()},
        people,
        str(provider.id),
        token,
        programmes,
        projects,
        (await coordinator.api("POST", "/api/v1/reports", json={"kind": "agreement", "scope_id": agreements["AB"]})).json()["id"],
        (
            await coordinator.api(
                "POST",
                "/api/v1/report-subscriptions",
                json={"kind": "portfolio", "frequency": "monthly", "recipient_emails": ["x@nlv.example"]},
            )
        ).json()["id"],
        await _invitation(app, world),
        str(world.principals["partner_b"].user_id),
        await _gift(coordinator, world),
        *await _ledger(coordinator, world),
        (peer := await _peer(app, world)),
        await _webhook(app, world),
        await _approval(app, peer, agreements["A"]),
        {key: await _harvest_source(app, projects[key], partner) for key, partner in (("VA", world.nlc), ("VB", world.bnf))},
    )


async def _harvest_source(app, project_id: str, institution_id) -> str:
    """An endpoint on loopback: harvesting it is refused at once (private address), without any network."""
    from programs.models import HarvestSource

    async with app.state.session_factory() as session:
        source = HarvestSource(
            project_id=uuid.UUID(project_id), institution_id=institution_id, endpoint="http://127.0.0.1:9/activity", created_by="test"
        )
        session.add(source)
        await session.commit()
        return str(source.id)


async def _approval(app, peer: str, agreement: str) -> str:
    from agreements.models import AgreementApproval

    async with app.state.session_factory() as session:
        request = AgreementApproval(
            exchange_id=uuid.uuid4(),
            peer_id=uuid.UUID(peer),
            direction="received",
            agreement_id=uuid.UUID(agreement),
            reference="A",
            hash="0" * 64,
            snapshot={"format": "libcoop-agreement-snapshot/1", "reference": "A"},
            asked_by="NLC",
        )
        session.add(request)
        await session.commit()
        return str(request.id)


async def _webhook(app, world) -> str:
    from cooperation.webhooks import WebhookEndpoint

    async with app.state.session_factory() as session:
        hook = WebhookEndpoint(url="http://127.0.0.1:9/events", kinds=["visit"], owner_id=world.principals["admin"].user_id, secret="x")
        session.add(hook)
        await session.commit()
        return str(hook.id)


async def _peer(app, world) -> str:
    from cooperation.peers.models import Peer

    async with app.state.session_factory() as session:
        peer = Peer(
            base_url="http://127.0.0.1:9",
            key_id="ed25519-test",
            public_key="A" * 43,
            institution_id=world.nlc,
            their_code="NLC",
            their_name="NLC",
            paired_by="test",
        )
        session.add(peer)
        await session.commit()
        return str(peer.id)


async def _ledger(coordinator: Client, world) -> tuple[str, str]:
    payload = agreement_payload([world.home, world.nlc], reference="M-PUB", kind="exchange_of_publications")
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=payload)).json()
    made = await coordinator.form(
        "/publications/arrangements", {"partner_institution_id": str(world.nlc), "agreement_id": agreement["id"], "basis": "blanket"}
    )
    assert made.status_code == 303, made.text[:300]
    arrangement = made.headers["location"].rsplit("/", 1)[-1]
    sent = await coordinator.form(
        "/publications/shipments",
        {"direction": "sent", "shipped_on": "2026-03-02", "arrangement_id": arrangement, "item-0-title": "Thư mục quốc gia"},
    )
    assert sent.status_code == 303, sent.text[:300]
    return arrangement, sent.headers["location"].rsplit("/", 1)[-1]


async def _gift(coordinator: Client, world) -> str:
    """A gift the library received from NLC by post: an entry of the department's register, no partner's."""
    answer = await coordinator.form(
        "/gifts", {"direction": "received", "description": "Facsimile", "partner_institution_id": str(world.nlc), "given_on": "2026-03-02"}
    )
    assert answer.status_code == 303, answer.text[:300]
    return answer.headers["location"].rsplit("/", 1)[-1]


def request_for(method: str, path: str, name: str, target: str | None, scene: Scene, world) -> tuple[str, dict[str, Any]]:
    """The concrete URL and a body that passes validation, so each cell reaches the access decision."""

    def param(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "agreement_id":
            return scene.agreements[target or "A"]
        if key == "commitment_id":
            return scene.commitments[target or "A"]
        if key == "attachment_id":
            return scene.attachments[target or "A"]
        if key == "exchange_id":
            return scene.exchanges[target or "VA"]
        if key == "gift_id":
            return scene.gift
        if key == "peer_id":
            return scene.peer
        if key == "webhook_id":
            return scene.webhook
        if key == "approval_id":
            return scene.approval
        if key == "source_id":
            return scene.harvest_sources[target or "VA"]
        if key == "change":
            return "pause"
        if key == "arrangement_id" or (key == "record_id" and name.removeprefix("api_").startswith("arrangement_")):
            return scene.arrangement
        if key == "shipment_id" or (key == "record_id" and name.removeprefix("api_").startswith("shipment_")):
            return scene.shipment
        if key == "photo_id":
            return scene.photos[target or "VA"]
        if key == "follow_up_id":
            return scene.follow_ups[target or "VA"]
        if key == "owner_type" and name.startswith(("api_follow_up", "follow_up")):
            return "visit"
        if key == "owner_id" and name.startswith(("api_follow_up", "follow_up")):
            return scene.visits[target or "VA"]
        if key == "visit_id":
            return scene.visits[target or "VA"]
        if key == "record_id" and name.startswith("share_"):
            return scene.visits[target or "VA"]
        if key == "kind" and name.startswith("share_"):
            return "visit"
        if key == "record_id" and name.removeprefix("api_").startswith("gift_"):
            return scene.gift
        if key == "record_id":
            kind = name.removeprefix("api_").split("_")[0]
            return {"visit": scene.visits, "exchange": scene.exchanges, "programme": scene.programmes, "project": scene.projects}[kind][
                target or "VA"
            ]
        if key == "run_id":
            return scene.report
        if key == "subscription_id":
            return scene.subscription
        if key == "programme_id":
            return scene.programmes[target or "VA"]
        if key == "project_id":
            return scene.projects[target or "VA"]
        if key == "comment_id":
            return scene.comments[target or "A"]
        if key == "institution_id":
            return (
                scene.institutions[PARTNER_PARTY[target]] if name == "api_agreement_party_update" else scene.institutions[target or "NLC"]
            )
        if key == "person_id":
            return scene.people[target or "NLC"]
        if key == "owner_type":
            return "agreement"
        if key == "owner_id":
            return scene.agreements[target or "A"]
        if key == "provider_id":
            return scene.provider
        if key == "token_id":
            return scene.token
        if key == "invitation_id":
            return scene.invitation
        if key == "user_id":
            return scene.user
        if key == "path":
            return "openapi.yaml"
        if key == "kind" and name in ("visit_form_row", "visit_form_paste"):
            return "host"
        if key == "kind" and name == "publication_decide":
            return "summary"
        raise AssertionError(key)

    url = PARAM.sub(param, path)
    institution = scene.institutions.get(target or "", scene.institutions["NLC"])
    partner_of = {"VA": scene.institutions["NLC"], "VB": scene.institutions["BNF"]}.get(target or "", scene.institutions["NLC"])
    partner_code = {"VA": "NLC", "VB": "BNF"}.get(target or "", "NLC")
    programme_body = {
        "name": "Renamed programme",
        "starts_on": "2026-01-01",
        "ends_on": "2028-12-31",
        "institution_ids": [str(world.home), partner_of],
        "version": 1,
    }
    project_body = {"name": "Renamed project", "lead_institution_id": partner_of, "starts_on": "2025-01-01", "version": 1}
    csv_body = f"institution,as_of,volumes\n{partner_code},2026-01-{uuid.uuid4().int % 28 + 1:02d},10\n".encode()
    bodies: dict[str, dict[str, Any]] = {
        "api_agreement_create": {"json": agreement_payload([world.home, world.nlc], reference=f"NEW-{uuid.uuid4().hex[:8]}")},
        "api_agreement_update": {
            "json": {**agreement_payload([world.home, world.nlc], reference=f"U-{uuid.uuid4().hex[:8]}"), "version": 1}
        },
        "api_agreement_transition": {"json": {"to": "negotiating", "version": 1}},
        "api_commitment_create": {"json": {"text": "More"}},
        "api_commitment_update": {"json": {"text": "Changed", "version": 1}},
        "api_commitment_progress": {"json": {"status": "in_progress", "progress": 10, "version": 1}},
        "api_agreement_party_update": {"json": {"signatory_name": "Signatory"}},
        "api_institution_create": {"json": {"code": f"X{uuid.uuid4().hex[:6]}", "name": "New library", "country": "FR"}},
        "api_institution_update": {"json": {"code": f"X{uuid.uuid4().hex[:6]}", "name": "Renamed", "country": "FR", "version": 1}},
        "api_person_create": {"json": {"name": "New person", "institution_id": scene.institutions["NLC"]}},
        "api_person_update": {"json": {"name": "Renamed", "institution_id": institution, "version": 1}},
        "api_person_account": {"json": {"user_id": None, "version": 1}},
        "api_institution_home": {"json": {"institution_id": str(world.home)}},
        "api_user_update": {"json": {"name": "Partner B"}},  # harmless: a role or activity change would end that session
        "api_invitation_create": {"json": {"email": f"{uuid.uuid4().hex[:8]}@nlv.example", "name": "New", "role": "director"}},
        "api_identity_provider_create": {
            "json": {
                "institution_id": scene.institutions["BNF"],
                "issuer": "https://idp.bnf.invalid",
                "client_id": "x",
                "client_secret": "y",
            }
        },
        "api_identity_provider_update": {
            "json": {
                "institution_id": scene.institutions["NLC"],
                "issuer": "https://idp.nlc.invalid",
                "client_id": "x",
                "enabled": False,
                "version": 1,
            }
        },
        "api_identity_provider_enabled": {"json": {"enabled": False, "version": 1}},
        "api_token_create": {"json": {"name": "another"}},
        "api_attachment_upload": {"files": {"file": ("b.pdf", PDF, "application/pdf")}},
        "attachment_upload": {"files": {"file": ("b.pdf", PDF, "application/pdf")}},
        "agreement_create": {
            "data": {
                "reference": f"F-{uuid.uuid4().hex[:8]}",
                "title": "T",
                "kind": "other",
                "party-0-institution_id": str(world.home),
                "party-1-institution_id": str(world.nlc),
            }
        },
        "agreement_update": {
            "data": {
                "reference": f"F-{uuid.uuid4().hex[:8]}",
                "title": "T",
                "kind": "other",
                "version": "1",
                "party-0-institution_id": str(world.home),
                "party-1-institution_id": str(world.nlc),
            }
        },
        "agreement_transition": {"data": {"to": "negotiating", "version": "1"}},
        "commitment_create": {"data": {"text": "More"}},
        "commitment_progress": {"data": {"status": "in_progress", "progress": "10", "version": "1"}},
        "institution_create": {"data": {"code": f"Y{uuid.uuid4().hex[:6]}", "name": "New", "country": "FR", "kind": "national_library"}},
        "institution_update": {
            "data": {"code": f"Y{uuid.uuid4().hex[:6]}", "name": "New", "country": "FR", "kind": "national_library", "version": "1"}
        },
        "person_create": {"data": {"name": "New person", "institution_id": scene.institutions["NLC"]}},
        "person_update": {"data": {"name": "Renamed", "institution_id": institution, "version": "1"}},
        "person_account": {"data": {"user_id": "", "version": "1"}},
        "account_token_create": {"data": {"name": "page token", "scope": "read"}},
        "api_comment_create": {"json": {"body": "Agreed."}},
        "api_visit_create": {
            "json": {
                "title": "New",
                "direction": "incoming",
                "host_institution_id": str(world.home),
                "visiting_institution_id": str(world.ndl),
                "starts_on": "2026-04-01",
                "ends_on": "2026-04-02",
            }
        },
        "api_visit_update": {
            "json": {
                "title": "Renamed",
                "direction": "incoming",
                "host_institution_id": str(world.home),
                "visiting_institution_id": str(world.nlc),
                "starts_on": "2026-03-02",
                "ends_on": "2026-03-04",
                "version": 1,
            }
        },
        "api_visit_transition": {"json": {"to": "confirmed", "version": 1}},
        "api_follow_up_create": {"json": {"text": "More", "responsible_institution_id": str(world.home)}},
        "api_follow_up_progress": {"json": {"status": "in_progress", "version": 1}},
        "follow_up_progress": {"data": {"status": "in_progress", "version": "1"}},
        "api_exchange_create": {
            "json": {
                "expert_person_id": scene.experts["VA"],
                "host_institution_id": str(world.home),
                "starts_on": "2026-06-01",
                "ends_on": "2026-06-05",
                "field_of_work": "Cataloguing",
            }
        },
        "api_exchange_update": {
            "json": {
                "expert_person_id": scene.experts.get(target or "VA", scene.experts["VA"]),
                "host_institution_id": str(world.home),
                "starts_on": "2026-05-04",
                "ends_on": "2026-05-08",
                "field_of_work": "Conservation",
                "version": 1,
            }
        },
        "api_exchange_confirm": {"json": {"confirmed": True, "version": 1}},
        "exchange_create": {
            "data": {
                "expert_person_id": scene.experts["VA"],
                "host_institution_id": str(world.home),
                "starts_on": "2026-06-01",
                "ends_on": "2026-06-05",
                "field_of_work": "Cataloguing",
            }
        },
        "exchange_update": {
            "data": {
                "expert_person_id": scene.experts.get(target or "VA", scene.experts["VA"]),
                "host_institution_id": str(world.home),
                "starts_on": "2026-05-04",
                "ends_on": "2026-05-08",
                "field_of_work": "Conservation",
                "version": "1",
            }
        },
        "exchange_confirm": {"data": {"confirmed": "1", "version": "1"}},
        "shipment_status": {"data": {"status": "acknowledged", "version": "1"}},
        "visit_update": {
            "data": {
                "title": "Renamed on the page",
                "direction": "incoming",
                "host_institution_id": str(world.home),
                "visiting_institution_id": str(world.nlc),
                "starts_on": "2026-03-02",
                "ends_on": "2026-03-04",
                "version": "1",
            }
        },
        "visit_transition": {"data": {"to": "confirmed", "version": "1"}},
        "report_request": {"data": {"kind": "agreement", "scope_agreement": scene.agreements["AB"], "language": "fr"}},
        "api_report_request": {"json": {"kind": "agreement", "scope_id": scene.agreements["AB"]}},
        "report_subscription_update": {
            "data": {"kind": "portfolio", "frequency": "monthly", "recipient_emails": "d@nlv.example", "version": "1"}
        },
        "report_subscription_create": {"data": {"kind": "portfolio", "frequency": "monthly", "recipient_emails": "a@nlv.example"}},
        "api_report_subscription_create": {
            "json": {"kind": "portfolio", "frequency": "weekly", "day": 2, "recipient_emails": ["b@nlv.example"]}
        },
        "api_report_subscription_update": {
            "json": {"kind": "portfolio", "frequency": "quarterly", "recipient_emails": ["c@nlv.example"], "version": 1}
        },
        "api_programme_create": {"json": {k: v for k, v in programme_body.items() if k != "version"} | {"name": "New programme"}},
        "programme_create": {
            "data": {"name": "Form programme", "starts_on": "2026-01-01", "ends_on": "2026-12-31", "institution_ids": str(world.home)}
        },
        "api_programme_update": {"json": programme_body},
        "programme_update": {"data": {**programme_body, "institution_ids": programme_body["institution_ids"], "version": "1"}},
        "api_project_create": {"json": {k: v for k, v in project_body.items() if k != "version"} | {"name": "New project"}},
        "project_create": {"data": {"name": "Form project", "lead_institution_id": str(world.home), "starts_on": "2025-01-01"}},
        "api_project_update": {"json": project_body},
        "project_update": {"data": {**project_body, "version": "1"}},
        "api_project_progress": {"json": {"institution_id": partner_of, "as_of": "2025-06-30", "volumes": 10 + uuid.uuid4().int % 5}},
        "project_progress": {"data": {"institution_id": partner_of, "as_of": "2025-07-31", "volumes": "20"}},
        "api_project_progress_csv": {"content": csv_body, "headers": {"content-type": "text/csv"}},
        "project_progress_csv": {"files": {"file": ("progress.csv", csv_body, "text/csv")}},
        "project_harvest_source": {
            "data": {"institution_id": partner_of, "endpoint": "http://127.0.0.1:9/activity", "manifests_as": "volumes"}
        },
        "api_visit_photos_arrange": {"json": [{"id": scene.photos.get(target or "VA", scene.photos["VA"])}]},
        "follow_up_create": {"data": {"text": "More", "responsible_institution_id": str(world.home)}},
        "exchange_transition": {"data": {"to": "cancelled", "version": "1", "note": "matrix"}},
        "api_visit_delegation": {"json": {"members": [], "version": 1}},
        "visit_create": {
            "data": {
                "title": "Form visit",
                "direction": "incoming",
                "host_institution_id": str(world.home),
                "visiting_institution_id": str(world.ndl),
                "starts_on": "2026-07-01",
                "ends_on": "2026-07-02",
            }
        },
        "api_exchange_transition": {"json": {"to": "cancelled", "version": 1, "note": "matrix"}},
        "api_visit_photo_create": {"files": {"file": ("q.png", PNG, "image/png")}},
        "visit_photo_create": {"files": {"file": ("q.png", PNG, "image/png")}},
        "comment_create": {"data": {"body": "Agreed."}},
        "comment_audience": {"data": {"audience": "partners", "version": "1"}},
        "api_comment_audience": {"json": {"audience": "partners", "version": 1}},
        "attachment_audience": {"data": {"audience": "partners", "version": "1"}},
        "api_attachment_audience": {"json": {"audience": "partners", "version": 1}},
        "publication_decide": {"data": {"summary": scene.visits["VA"], "decision": "keep"}},
        "identity_provider_create": {
            "data": {
                "institution_id": scene.institutions["BNF"],
                "issuer": "https://idp.bnf.invalid",
                "client_id": "x",
                "client_secret": "y",
            }
        },
        "identity_provider_toggle": {"data": {"enabled": "0", "version": "1"}},
    }
    body = bodies.get(name)
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = {"json": {"version": 1}} if url.startswith("/api/") else {"data": {"version": "1"}}
    return url, body or {}


async def test_every_route_for_every_role(app, world, client_for):
    coordinator = await client_for("coordinator")
    scene = await build_scene(app, world, coordinator)
    unlisted = sorted({name for _, _, name in routes(app)} - set(ROUTES))
    assert not unlisted, f"routes without an entry in the access matrix: {unlisted}"
    clients: dict[str, Client] = {}
    for role in ROLES:
        raw = http_client(app)
        await raw.__aenter__()
        clients[role] = Client(raw)
        if role != "anonymous":
            await clients[role].sign_in(world.users[role], PASSWORD)
    failures = []
    cells = 0
    try:
        # Managers last, so that their (allowed) changes do not decide other roles' cells.
        for role in ["anonymous", "director", "partner_a", "partner_b", "coordinator", "admin"]:
            for method, path, name in routes(app):
                if name in ("logout", "view_as_start"):
                    continue  # would end or change the session the rest of the matrix uses; test_auth, test_audience
                kind, targets = ROUTES[name]
                for target in targets or [None]:
                    url, body = request_for(method, path, name, target, scene, world)
                    client = clients[role]
                    headers = {"x-csrf-token": await client.csrf(), **body.pop("headers", {})}
                    if "data" in body:
                        body = {"data": {**body["data"], "_csrf_token": await client.csrf()}}
                    response = await client.raw.request(method, url, headers=headers, follow_redirects=False, **body)
                    expected = expect(kind, role, target)
                    cells += 1
                    if response.status_code not in expected:
                        detail = response.text[:120].replace("\n", " ")
                        failures.append(
                            f"{role} {method} {url} ({name}, {target}): {response.status_code} {detail!r}, expected {sorted(expected)}"
                        )
    finally:
        for client in clients.values():
            await client.raw.__aexit__(None, None, None)
    assert not failures, f"{len(failures)} of {cells} cells wrong:\n" + "\n".join(failures)
    assert cells > 400
