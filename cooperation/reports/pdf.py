"""HTML to PDF in a small pool of spawned processes, with a time limit.

Rendering in the event loop's thread stalls every request for as long as it takes (seconds for a long
report); in a thread it still holds the GIL for most of that. Spawned processes (not forked: a fork would
copy the event loop, the database pool and open sockets) each take one report at a time; the pool is replaced
after `MAX_TASKS_PER_CHILD` reports per process so memory cannot creep. A report over its time limit has its process
killed and the pool replaced, so one pathological document cannot hold a worker forever.

The replacement is ours, not `ProcessPoolExecutor(max_tasks_per_child=…)`: on Python 3.11 a pool whose worker retires
that way while reports wait leaves the waiting ones hanging until their time limit (CPython gh-115634; after 19
reports the 20th and every one queued behind it failed at 120 s — bench/worker_health.py found it).
"""

import asyncio
import multiprocessing
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

MAX_TASKS_PER_CHILD = 20
# A report longer than this many pages keeps the table of contents its template marks between these comments.
TOC_PAGES = 4
TOC_START, TOC_END = "<!--toc-->", "<!--/toc-->"
STARTUP_SECONDS = 60  # a new worker imports WeasyPrint (about 3 s on a 2-core machine): not part of a report's time limit


def pdf_filename(title: str) -> str:
    """A download or attachment name from a report's title: letters, digits and dashes only."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in title.lower())[:80].strip("-") or "report"
    return f"{safe}.pdf"


class ReportTimeout(Exception):
    pass


def _url_fetcher(allowed_dir: str) -> Any:
    """Only our own stored files (photos) and data: URIs; never the network."""
    from weasyprint.urls import URLFetcher

    root = Path(allowed_dir).resolve()

    class OwnFilesOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("file:") and not Path(unquote(urlparse(url).path)).resolve().is_relative_to(root):
                raise ValueError(f"refused to read {url[:80]} while rendering a report")
            return super().fetch(url, headers)

    return OwnFilesOnly(allowed_protocols={"file", "data"}, timeout=5)


def html_to_pdf(html: str, allowed_dir: str) -> tuple[bytes, int, float]:
    """Runs in a worker process: the PDF, its page count, and the worker's peak memory in MiB."""
    from weasyprint import HTML

    delay = float(os.environ.get("COOP_TEST_RENDER_DELAY", "0") or 0)  # tests: a long render, to prove nothing stalls
    if delay:
        time.sleep(delay)
    document = HTML(string=html, url_fetcher=_url_fetcher(allowed_dir)).render()
    if len(document.pages) <= TOC_PAGES and TOC_START in html:
        # A short report needs no table of contents: rendered again without it (cheap: it is short).
        before, _, rest = html.partition(TOC_START)
        document = HTML(string=before + rest.partition(TOC_END)[2], url_fetcher=_url_fetcher(allowed_dir)).render()
    pdf = document.write_pdf()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return pdf, len(document.pages), peak_mib


PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_CHECK_SECONDS = 2.0


def _exit_with_parent(parent: int) -> None:
    """A worker must not outlive the process that started it (a SIGKILLed scheduler left its workers, and the
    resource tracker they keep open, running for many minutes). Linux sends SIGKILL when the parent dies; elsewhere,
    and as a second guard, a thread watches for the parent to change."""
    import contextlib
    import ctypes
    import signal
    import threading

    with contextlib.suppress(OSError, AttributeError):  # not Linux
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _warm(parent: int | None = None) -> None:
    """A worker's initializer: exit with its parent; load WeasyPrint (and its fonts' libraries) before the first
    report is timed."""
    if parent is not None:
        _exit_with_parent(parent)
    import weasyprint  # noqa: F401


def _ready() -> bool:
    return True


class PdfRenderer:
    def __init__(self, workers: int, timeout_seconds: float, allowed_dir: Path) -> None:
        self.workers = workers
        self.timeout = timeout_seconds
        self.allowed_dir = str(allowed_dir)
        self._pool: ProcessPoolExecutor | None = None
        self._given = 0  # reports given to the current pool
        self._starting: asyncio.Lock | None = None

    async def _executor(self) -> ProcessPoolExecutor:
        """The pool, started (its first worker up, WeasyPrint loaded) before any report's clock starts."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._pool is None:
                pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_warm,
                    initargs=(os.getpid(),),
                )
                try:
                    await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(pool, _ready), STARTUP_SECONDS)
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
                self._pool, self._given = pool, 0
            return self._pool

    async def render(self, html: str) -> tuple[bytes, int, float]:
        loop = asyncio.get_running_loop()
        pool = await self._executor()
        future = loop.run_in_executor(pool, html_to_pdf, html, self.allowed_dir)
        self._given += 1
        if self._given >= MAX_TASKS_PER_CHILD * self.workers and self._pool is pool:
            # Retired: the reports it holds finish there, the next go to a new pool, and its processes then exit.
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=False)
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            self._kill(pool)
            raise ReportTimeout(f"the report took longer than {self.timeout:.0f} seconds to render") from None

    def _kill(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        for process in list(getattr(pool, "_processes", {}).values()):  # the only way to stop a running task
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
