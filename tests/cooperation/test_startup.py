"""Starting the app loads what serving pages needs, not what only some requests or processes need: the object
store's client (aioboto3, aiohttp) only where files go to S3, WeasyPrint only in render workers, pygal only when a
chart is drawn. A test of which modules load, not of how long it takes (that is bench/'s)."""

import json
import subprocess
import sys

from cooperation.settings import PROJECT_ROOT

LATER = ("aioboto3", "aiobotocore", "aiohttp", "weasyprint", "pygal", "pygal_maps_world")


def test_importing_the_app_loads_no_object_store_client_pdf_engine_or_chart_library():
    probe = "import json, sys; import cooperation.app; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert loaded.isdisjoint(LATER), sorted(loaded & set(LATER))
    assert "litestar" in loaded and "sqlalchemy" in loaded  # the probe did import the app
