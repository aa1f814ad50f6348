"""An IIIF Change Discovery 1.0 stream served on loopback from fixtures, as a partner's digitization platform would
publish it: an Activity Streams OrderedCollection, its pages (oldest first, linked by `next`), and the manifests
they name (Presentation 3 and 2), for the harvest tests."""

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CONTEXT = "http://iiif.io/api/discovery/1/context.json"


class Stream:
    """The documents at their paths; tests change them between harvests, as a publisher's stream grows."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}
        self.hits: list[str] = []
        self.base = ""
        self.slow: dict[str, float] = {}  # paths answered one byte at a time, this many seconds apart
        self.sent: dict[str, int] = {}  # bytes of a slow answer sent so far

    def url(self, path: str) -> str:
        return self.base + path

    def manifest(self, name: str, canvases: int, *, version: int = 3) -> str:
        path = f"/iiif/{name}/manifest.json"
        if version == 3:
            items = [{"id": self.url(f"/iiif/{name}/canvas/{i}"), "type": "Canvas"} for i in range(canvases)]
            self.documents[path] = {
                "@context": "http://iiif.io/api/presentation/3/context.json",
                "id": self.url(path),
                "type": "Manifest",
                "items": items,
            }
        else:
            canvases_v2 = [{"@id": self.url(f"/iiif/{name}/canvas/{i}"), "@type": "sc:Canvas"} for i in range(canvases)]
            self.documents[path] = {
                "@context": "http://iiif.io/api/presentation/2/context.json",
                "@id": self.url(path),
                "@type": "sc:Manifest",
                "sequences": [{"@type": "sc:Sequence", "canvases": canvases_v2}],
            }
        return self.url(path)

    def activity(self, kind: str, name: str, when: str, *, of: str = "Manifest") -> dict[str, Any]:
        return {"type": kind, "object": {"id": self.url(f"/iiif/{name}/manifest.json"), "type": of}, "endTime": when}

    def pages(self, *pages: list[dict[str, Any]], first: bool = True, next: bool = True) -> None:
        """The collection and its pages, in order. Change Discovery 1.0 requires `last` and `prev`; `first` and `next`
        are optional (a publisher may leave them out)."""
        count = len(pages)
        self.documents["/activity/all-changes"] = {
            "@context": CONTEXT,
            "id": self.url("/activity/all-changes"),
            "type": "OrderedCollection",
            "totalItems": sum(len(p) for p in pages),
            "last": {"id": self.url(f"/activity/page-{count}"), "type": "OrderedCollectionPage"},
        }
        if first:
            self.documents["/activity/all-changes"]["first"] = {"id": self.url("/activity/page-1"), "type": "OrderedCollectionPage"}
        for number, items in enumerate(pages, start=1):
            page: dict[str, Any] = {
                "@context": CONTEXT,
                "id": self.url(f"/activity/page-{number}"),
                "type": "OrderedCollectionPage",
                "partOf": {"id": self.url("/activity/all-changes"), "type": "OrderedCollection"},
                "orderedItems": items,
            }
            if number > 1:
                page["prev"] = {"id": self.url(f"/activity/page-{number - 1}"), "type": "OrderedCollectionPage"}
            if number < count and next:
                page["next"] = {"id": self.url(f"/activity/page-{number + 1}"), "type": "OrderedCollectionPage"}
            self.documents[f"/activity/page-{number}"] = page


@contextlib.contextmanager
def serving_stream() -> Iterator[Stream]:
    stream = Stream()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            stream.hits.append(self.path)
            document = stream.documents.get(self.path)
            if document is None:
                self.send_error(404)
                return
            body = document if isinstance(document, bytes) else json.dumps(document).encode()
            self.send_response(200)
            self.send_header("Content-Type", 'application/ld+json;profile="http://iiif.io/api/discovery/1/context.json"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path not in stream.slow:
                self.wfile.write(body)
                return
            for byte in body:  # a byte every few moments: each read is quick, the whole answer is not
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:  # the reader gave up
                    return
                stream.sent[self.path] = stream.sent.get(self.path, 0) + 1
                time.sleep(stream.slow[self.path])

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stream.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stream
    finally:
        server.shutdown()
        server.server_close()
