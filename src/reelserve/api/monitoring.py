"""The operator's endpoints beside /healthz (liveness): GET /readyz and GET /metrics.

/metrics is not public: it answers only `Authorization: Bearer <REELSERVE_METRICS_TOKEN>`, and 404 where no token
is set (the metrics may then be served on REELSERVE_METRICS_PORT, bound to localhost, instead). Neither endpoint
is in the OpenAPI document: they are for probes and scrapers, not API clients.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from reelserve.api import execution
from reelserve.api.dependencies import runtime_of
from reelserve.api.envelope import error_response
from reelserve.observe.exposition import token_matches

router = APIRouter()


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """200 when the database answers, the storage takes a file and every queue has a worker; else 503 with what
    is missing."""
    report = await execution.in_thread(runtime_of(request).observability.readiness.report)
    return JSONResponse(report.as_json(), status_code=200 if report.ready else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    observability = runtime_of(request).observability
    token = observability.metrics_token
    if token is None:
        return error_response(404, "not_found", "no such endpoint")
    if not token_matches(request.headers.get("authorization"), token):
        return error_response(
            401, "authentication_error", "/metrics needs the metrics token: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body, content_type = await execution.in_thread(observability.exposition.render, request.headers.get("accept"))
    return Response(body, headers={"Content-Type": content_type})
