"""The baseline: a bare Litestar handler on asyncpg's own pool running the same SQL as the agreements API
(one page of rows with their parties and the capped count) with no ORM, no session lookup, no access filter."""

import os
from typing import Any

import asyncpg
from litestar import Litestar, get
from litestar.datastructures import State

DSN = os.environ["BENCH_ASYNCPG_DSN"]

# The statements the real endpoint sends (copied from PostgreSQL's log with log_min_duration_statement=0).
PAGE = """SELECT agreement.id, agreement.reference, agreement.title, agreement.kind, agreement.status, agreement.signed_on,
 agreement.effective_on, agreement.expires_on, agreement.confidentiality,
 (SELECT string_agg(ordered.code, ',') FROM (SELECT institution.code AS code
   FROM agreement_party JOIN institution ON institution.id = agreement_party.institution_id
   WHERE agreement_party.agreement_id = agreement.id ORDER BY agreement_party.position) AS ordered) AS party_codes,
 (SELECT count(*) FROM (SELECT 1 FROM agreement WHERE archived_at IS NULL LIMIT 10001) AS capped) AS total
FROM agreement WHERE agreement.archived_at IS NULL ORDER BY agreement.signed_on DESC, agreement.id DESC LIMIT $1 OFFSET $2"""


async def open_pool(app: Litestar) -> None:
    app.state.pool = await asyncpg.create_pool(DSN, min_size=5, max_size=10)


@get("/api/v1/agreements")
async def agreements(state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        rows = await conn.fetch(PAGE, 50, 0)
    total = rows[0]["total"] if rows else 0
    items = [{**dict(r), "parties": (r["party_codes"] or "").split(",")} for r in rows]
    for item in items:
        del item["total"], item["party_codes"]
    return {"items": items, "total": total, "page": 1, "per_page": 50}


app = Litestar([agreements], on_startup=[open_pool])
