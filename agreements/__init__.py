"""Agreements: bilateral and multilateral agreements, parties, commitments, renewals, reminders.

What app.py collects from this domain is listed in `wiring.py` (routes, jobs, and the hooks the
shared core calls back: who shares records with whom, which records hold documents, dashboard).
"""
