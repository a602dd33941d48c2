"""`/`, `/studio` and `/studio/admin`: the studio's two pages, and its assets under `/studio/static/`.

The pages are static files shipped in this package; everything they show they read from the v3 API and the
admin endpoints with the API key the person signed in with (kept in the browser's session storage and sent
as the Authorization header). The Content-Security-Policy lets the pages run only their own scripts and
reach only this server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from reelserve.api.dependencies import runtime_of

STATIC_DIR = Path(__file__).parent / "static"
PAGES_DIR = Path(__file__).parent / "html"
ASSETS_PATH = "/studio/static"
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
PAGE_HEADERS = {**COMMON_HEADERS, "X-Frame-Options": "DENY"}


def content_security_policy(public_url: str | None) -> str:
    """Own scripts and styles only; media from this server (and from its public URL, where outputs link to)."""
    media = "'self'"
    if public_url:
        parts = urlsplit(public_url)
        media += f" {parts.scheme}://{parts.netloc}"
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {media} blob: data:",
            f"media-src {media}",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


class StudioAssets(StaticFiles):
    """The package's static folder, every file with the studio's headers (nosniff above all)."""

    def file_response(
        self, full_path: str | Path, stat_result: object, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)  # type: ignore[arg-type]
        response.headers.update(COMMON_HEADERS)
        return response


def install_studio(app: FastAPI) -> None:
    def page(name: str) -> Callable[[Request], Awaitable[FileResponse]]:
        path = PAGES_DIR / name

        async def serve(request: Request) -> FileResponse:
            policy = content_security_policy(runtime_of(request).settings.public_url)
            return FileResponse(
                path, media_type="text/html; charset=utf-8",
                headers={**PAGE_HEADERS, "Content-Security-Policy": policy},
            )

        return serve

    studio_page = page("studio.html")
    admin_page = page("admin.html")
    for url in ("/", "/studio", "/studio/"):
        app.add_api_route(url, studio_page, methods=["GET", "HEAD"], include_in_schema=False)
    for url in ("/studio/admin", "/studio/admin/"):
        app.add_api_route(url, admin_page, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount(ASSETS_PATH, StudioAssets(directory=STATIC_DIR), name="studio-assets")
