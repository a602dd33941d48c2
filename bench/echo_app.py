"""The floor reelserve is measured against: a bare FastAPI app that answers a JSON echo, run by uvicorn
exactly as `reelserve serve` runs its app (one process, uvicorn's defaults, access log at info)."""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI(title="echo")


@app.post("/echo")
async def echo(request: Request) -> JSONResponse:
    return JSONResponse(await request.json())


@app.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
