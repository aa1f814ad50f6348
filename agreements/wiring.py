"""What this domain plugs into the application (collected by cooperation/app.py)."""

from agreements import api, approval_views, demo, services, summary, views
from agreements import jobs as scheduled
from cooperation.i18n import N_
from cooperation.portal import Section
from cooperation.share import Shareable

routes = [*views.routes, *approval_views.routes, *api.routes]
daily_jobs = scheduled.daily_jobs
settle_steps = [services.settle_lapsed]  # statuses that follow the dates (cooperation/settling.py)
sharing_sources = [services.institutions_sharing_with]
partners_bound = [services.partners_bound]
attachment_owners = {"agreement": services.attachment_owner}
shareables = [Shareable(kind="agreement", owner=services.attachment_owner, is_shared=services.is_shared, share=services.share)]
record_kinds = {"agreement": services.visible_ids, "commitment": services.visible_commitment_ids}  # access.may_see
dashboard_panels = [views.dashboard_panel]
year_figures = [summary.year_figures]
calendar_sources = [services.calendar_events]
demo_loaders = [demo.load_demo]
scale_loaders = [demo.load_scale]
key_figures = [summary.key_figures]
decisions = [summary.decisions]
portfolio_sections = {"agreements": summary.portfolio}
partner_sections = {"agreements": summary.partner}
record_reports = {"agreement": summary.dossier}
report_choices = {"agreement": summary.choices}
first_days = [summary.first_day]
portal_sections = [
    Section(
        name="agreements",
        label=N_("Agreements in force"),
        order=30,
        listing=summary.portal_agreements,
        institutions=summary.portal_institutions,
        template="portal/_agreements.html",
    )
]
