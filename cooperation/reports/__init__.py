"""Reports: plain values gathered by each domain's `summary.py`, Jinja2 print templates, PDF by WeasyPrint in a
small process pool off the event loop. Builders are registered by app.py; the core never imports a domain."""
