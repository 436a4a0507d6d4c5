"""Regions: recognising a call meant for another region, and pointing its client home.

A region knows where an account lives without a lookup when the token names its region
(``models.sessions.region_of``); it never verifies another region's session, it only says where
to send it. An account that lives elsewhere (a replica, ``models.replicas``) never gets a
session here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strawberry.extensions import FieldExtension

from models import sessions
from schema.regions import HOME_ENDPOINT_HEADER, HOME_REGION_HEADER, WrongRegion, WrongRegionError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import strawberry
    from starlette.responses import Response

    from settings import Settings


def refusal(settings: Settings, home_region: str) -> WrongRegion | None:
    """The ``WrongRegion`` answer for an account of ``home_region``; None when that is this
    region, or a region this instance does not know (a configuration error, logged by callers)."""
    if home_region == settings.region:
        return None
    endpoint = settings.region_endpoints.get(home_region)
    return None if endpoint is None else WrongRegion(home_region, endpoint)


def token_refusal(settings: Settings, token: str) -> WrongRegion | None:
    """The ``WrongRegion`` answer for a token another configured region issued, else None."""
    region = sessions.region_of(token)
    return None if region is None else refusal(settings, region)


def point_home(response: Response | None, wrong: WrongRegion) -> None:
    """Put the home's endpoint and region on the HTTP response (None: a WebSocket, which has none)."""
    if response is not None:
        response.headers[HOME_ENDPOINT_HEADER] = wrong.endpoint
        response.headers[HOME_REGION_HEADER] = wrong.home_region


class AnswersWrongRegion(FieldExtension):
    """For a mutation whose result union has ``WrongRegionError``: answer with it, instead of a
    top-level ``WRONG_REGION`` error, when the caller's account lives in another region."""

    def resolve(self, next_: Callable[..., Any], source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        try:
            return next_(source, info, **kwargs)
        except WrongRegion as wrong:
            return WrongRegionError.from_refusal(wrong)

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except WrongRegion as wrong:
            return WrongRegionError.from_refusal(wrong)
