"""What this domain plugs into the application (collected by cooperation/app.py)."""

from cooperation.archiving import archive_routes
from cooperation.i18n import N_
from cooperation.portal import Section
from cooperation.review import Source
from cooperation.share import Shareable, flag
from exchanges.expert_services import ProgrammeHooks
from programs import api, demo, project_services, services, summary, views
from programs import jobs as scheduled
from programs.models import DigitizationProject, Programme

routes = [
    *views.routes,
    *api.routes,
    *archive_routes("programme", "/programmes", services.set_archived, tag="programmes"),
    *archive_routes("project", "/projects", project_services.set_archived, tag="digitization projects"),
]
sharing_sources = [services.institutions_sharing_with, project_services.institutions_sharing_with]
partner_activity = [project_services.partner_activity]
attachment_owners = {"project": project_services.attachment_owner}
record_kinds = {"programme": services.visible_ids, "project": project_services.visible_ids}  # access.may_see
dashboard_panels = [views.dashboard_panel]
year_figures = [summary.year_figures]
first_days = [summary.first_day]
demo_loaders = [demo.load_demo]
daily_jobs = scheduled.daily_jobs
key_figures = [summary.key_figures]
decisions = [summary.decisions]
portfolio_sections = {"programs": summary.portfolio}
shareables = [
    Shareable("programme", services.programme_owner, *flag(Programme, "programme")),
    Shareable("project", project_services.attachment_owner, *flag(DigitizationProject, "project")),
]
review_sources = [
    Source(
        kind="progress", label=N_("Project progress"), waiting=summary.waiting_progress, decide=project_services.set_progress_publication
    )
]
portal_sections = [
    Section(
        name="projects",
        label=N_("Digitization projects"),
        order=20,
        listing=summary.portal_projects,
        institutions=summary.portal_institutions,
        template="portal/_projects.html",
    )
]
partner_sections = {"programs": summary.partner}
# Hooks into earlier domains: exchanges count against quotas; commitments are measured by programmes and projects.
exchange_hooks = ProgrammeHooks(check=services.check_exchange, choices=services.programme_choices, names=services.programme_names)
commitment_measures = [services.commitment_measures, project_services.commitment_measures]
