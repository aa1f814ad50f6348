"""Programmes: multi-year expert-exchange programmes with yearly quotas, and shared digitization projects
whose participants report measured progress.

What app.py collects from this domain is listed in `wiring.py`.
"""
