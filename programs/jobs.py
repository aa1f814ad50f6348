"""Scheduled work for programmes and projects. The scheduler that calls these on a timetable is wired in app.py."""

from programs.harvest_services import harvest_all

# Run every day by the elected scheduler (cooperation/scheduler.py): partners' progress harvested from their endpoints.
daily_jobs = [("harvest-progress", harvest_all)]
