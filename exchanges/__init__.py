"""Exchanges: delegation visits (incoming and outgoing) and, next, individual expert exchanges.

What app.py collects from this domain is listed in `wiring.py`.
"""
