"""What this domain plugs into the application (collected by cooperation/app.py)."""

from exchanges import api, demo, services, views

routes = [*views.routes, *api.routes]
jobs: list[object] = []
sharing_sources = [services.institutions_sharing_with]
demo_loaders = [demo.load_demo]
calendar_sources = [services.calendar_events]
attachment_owners = {"visit": services.attachment_owner}
