"""The admin SQL console in the browser: a page whose editor sends SQL to the operations API's query route
(POST /api/v1/admin/query with scope "admin", xolap.web.api_ops), so it runs through the same guard, executor and
limits as `xolap query --admin` and the dashboards' custom SQL; the health page's sample queries open in it with
one click (`/admin/console?sample=<n>`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from xolap.analytics.guard import GuardError, guard
from xolap.analytics.health import sample_queries
from xolap.web.auth import Principal, require_admin
from xolap.web.negotiation import render

router = APIRouter(tags=["admin"])

QUERY_API = "/api/v1/admin/query"


def samples(settings) -> list[dict]:
    """The health page's sample queries, numbered as the console's `?sample=` takes them; `runnable` says whether
    the admin guard accepts it (the ones over system tables are not, and `refusal` says why)."""
    listed = []
    for index, sample in enumerate(sample_queries(settings)):
        try:
            guard(sample.sql, scope="admin", database=settings.clickhouse_database)
            refusal = None
        except GuardError as exc:
            refusal = str(exc)
        listed.append({"index": index, **sample.__dict__, "runnable": refusal is None, "refusal": refusal})
    return listed


@router.get("/admin/console")
def console_page(request: Request, sample: int | None = None, principal: Principal = Depends(require_admin)):
    listed = samples(request.app.state.runtime.settings)
    runnable = [item for item in listed if item["runnable"]]
    chosen = listed[sample] if sample is not None and 0 <= sample < len(listed) else None
    context = {
        "samples": runnable,
        "chosen": chosen,
        "query_api": QUERY_API,
        "initial_sql": chosen["sql"] if chosen else (runnable[0]["sql"] if runnable else "SELECT 1"),
    }
    return render(
        request, "admin/console.html", context, json_data={"query_api": QUERY_API, "scope": "admin", "samples": listed}
    )
