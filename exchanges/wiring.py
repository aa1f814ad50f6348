"""What this domain plugs into the application (collected by cooperation/app.py)."""

from cooperation.archiving import archive_routes
from cooperation.i18n import N_
from cooperation.portal import Section
from cooperation.review import Source
from cooperation.share import Shareable, flag
from exchanges import (
    api,
    demo,
    expert_services,
    expert_views,
    gift_services,
    gift_views,
    photos,
    publication_services,
    publication_views,
    services,
    summary,
    views,
)
from exchanges.models import ExpertExchange, Visit

routes = [
    *views.routes,
    *expert_views.routes,
    *api.routes,
    *archive_routes("visit", "/visits", services.set_archived, tag="visits"),
    *archive_routes("exchange", "/exchanges", expert_services.set_archived, tag="expert exchanges"),
    *gift_views.routes,
    *archive_routes("gift", "/gifts", gift_services.set_archived, tag="gift register"),
    *publication_views.routes,
    *archive_routes("arrangement", "/publications/arrangements", publication_services.set_arrangement_archived, tag="publications"),
    *archive_routes("shipment", "/publications/shipments", publication_services.set_shipment_archived, tag="publications"),
]
sharing_sources = [services.institutions_sharing_with, expert_services.institutions_sharing_with]
partner_activity = [services.partner_activity, publication_services.partner_activity]
demo_loaders = [demo.load_demo]
key_figures = [summary.key_figures]
portfolio_sections = {"exchanges": summary.portfolio}
partner_sections = {"exchanges": summary.partner}
record_reports = {"visit": summary.visit}
period_reports = {"gifts": summary.gift_register, "publications": summary.publications_report}
report_choices = {"visit": summary.choices}
first_days = [summary.first_day]
portal_sections = [
    Section(
        name="visits",
        label=N_("Visits"),
        order=10,
        listing=summary.portal_visits,
        institutions=summary.portal_institutions,
        template="portal/_visits.html",
        detail=summary.portal_visit,
        detail_template="portal/visit.html",
        feed=summary.portal_feed,
    )
]
review_sources = [
    Source(kind="photo", label=N_("Photos"), waiting=summary.waiting_photos, decide=photos.set_publication),
    Source(kind="summary", label=N_("Visit summaries"), waiting=summary.waiting_summaries, decide=services.set_summary_publication),
]
calendar_sources = [services.calendar_events, expert_services.calendar_events]
dashboard_panels = [views.dashboard_panel]
year_figures = [summary.year_figures]
attachment_owners = {
    "visit": services.attachment_owner,
    "exchange": expert_services.attachment_owner,
    "gift": gift_services.attachment_owner,
    "shipment": publication_services.shipment_owner,
}
shareables = [
    Shareable("visit", services.attachment_owner, *flag(Visit, "visit")),
    Shareable("exchange", expert_services.attachment_owner, *flag(ExpertExchange, "expert_exchange")),
]
record_kinds = {
    "visit": services.visible_ids,
    "exchange": expert_services.visible_ids,
    "arrangement": publication_services.visible_arrangement_ids,
    "shipment": publication_services.visible_shipment_ids,
}  # access.may_see
commitment_measures = [
    services.commitment_measures,
    publication_services.commitment_measures,
]  # after the programmes' and projects' (one source each)
