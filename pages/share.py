"""The public page of a share link, ``/s/{token}``: server-rendered HTML that works without
JavaScript and loads nothing from elsewhere.

``GET`` shows the document's thumbnail (when its bytes have one: a signed URL of the object
store, the one origin the page's Content-Security-Policy lets it load from), name, size and a
download button (a password form instead, when the
link has a password: nothing about the document before it; a wrong password gets the form again
with "The password is wrong." and 403, too many 429 with ``Retry-After``). Only the button's ``POST`` counts a
download, so a link preview robot fetching the page counts nothing; it answers 303 to a signed S3
URL. An unknown token and a link whose document (or pinned version) is gone answer the same 404
page; a revoked, expired or exhausted link 410. Every answer is ``no-store`` and
``Referrer-Policy: no-referrer`` (the token is in the URL), and says nothing of the owner.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.responses import RedirectResponse
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from adapters.ratelimits import RateLimited
from services import share_links

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from runtime.services import Services

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
#: What every answer carries: never cached, no referrer (the token is in the page's URL), nothing
#: loaded from anywhere but inline styles, never framed, not indexed.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}
#: Form fields a password POST may carry, and the longest body read.
MAX_FORM_BYTES = 4096


def size_text(size: int) -> str:
    """``512 bytes``, ``1.5 KB``, ``12.3 MB``: how a person reads a file's size."""
    if size < 1000:
        return "1 byte" if size == 1 else f"{size} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        if value < 1000:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} TB"


def render(request: Request, state: str, status: int, **values: object) -> Response:
    response = TEMPLATES.TemplateResponse(
        request, "share.html", {"state": state, "size_text": size_text, **values}, status_code=status
    )
    response.headers.update(HEADERS)
    return response


async def show(request: Request) -> Response:
    services: Services = request.app.state.services
    token = request.path_params["token"]
    try:
        shared = await share_links.open_link(services, token)
    except share_links.Unknown:
        return render(request, "unknown", 404)
    except share_links.Gone:
        return render(request, "gone", 410)
    if shared.has_password:
        return render(request, "password", 200, wrong=False)
    thumbnail = None
    if shared.thumbnail_key is not None:
        thumbnail = services.objects.image_url(shared.thumbnail_key, expires_in=services.settings.download_url_seconds)
    response = render(request, "download", 200, name=shared.name, size=shared.size, thumbnail=thumbnail)
    if thumbnail is not None:  # the one thing the page loads: the thumbnail, from the object store's origin
        origin = urlsplit(thumbnail)
        response.headers["Content-Security-Policy"] += f"; img-src {origin.scheme}://{origin.netloc}"
    return response


async def download(request: Request) -> Response:
    services: Services = request.app.state.services
    token = request.path_params["token"]
    password: str | None = None
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form(max_files=0, max_fields=4, max_part_size=MAX_FORM_BYTES)
        value = form.get("password")
        password = value if isinstance(value, str) else None
    client = request.client.host if request.client is not None else None
    try:
        url = await share_links.download(services, token, password, client)
    except share_links.Unknown:
        return render(request, "unknown", 404)
    except share_links.Gone:
        return render(request, "gone", 410)
    except share_links.WrongPassword:
        # 403, not 401: a 401 must name an HTTP authentication scheme (WWW-Authenticate), and a
        # form's password is none; the form comes again with the sentence.
        return render(request, "password", 403, wrong=True)
    except RateLimited as limited:
        response = render(request, "limited", 429, retry_after=limited.retry_after_seconds)
        response.headers["Retry-After"] = str(limited.retry_after_seconds)
        return response
    response = RedirectResponse(url, status_code=303)
    response.headers.update(HEADERS)
    return response


ROUTES = [
    Route("/s/{token}", show, methods=["GET"]),
    Route("/s/{token}", download, methods=["POST"]),
]
