"""Regions: the answer to a call that reached a region that is not the account's home."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from schema.errors import CodedError, Error

#: Response headers of every HTTP call recognised as reaching the wrong region.
HOME_ENDPOINT_HEADER = "X-DocStore-Home-Endpoint"
HOME_REGION_HEADER = "X-DocStore-Home-Region"


class WrongRegion(CodedError):
    """A top-level error ``WRONG_REGION`` with ``extensions.homeRegion`` and ``extensions.endpoint``:
    the account lives in another region; send the call there. Mutations that answer with a union
    turn it into :class:`WrongRegionError` instead."""

    code = "WRONG_REGION"

    def __init__(self, home_region: str, endpoint: str) -> None:
        message = f"This account lives in {home_region}: send this call to {endpoint}/graphql."
        GraphQLError.__init__(
            self, message, extensions={"code": self.code, "homeRegion": home_region, "endpoint": endpoint}
        )
        self.home_region = home_region
        self.endpoint = endpoint


@strawberry.type(
    description=(
        "The account lives in another region, whose API holds its data: send the same call to "
        "`endpoint` (GraphQL at `{endpoint}/graphql`). Nothing was done here. The HTTP response also "
        f"carries the headers `{HOME_ENDPOINT_HEADER}` and `{HOME_REGION_HEADER}`."
    )
)
class WrongRegionError(Error):
    home_region: str = strawberry.field(description="The account's home region, e.g. `us-west-2`.")
    endpoint: str = strawberry.field(
        description="The base URL of the home region's API, e.g. `https://api.us-west-2.example.com`."
    )

    @classmethod
    def from_refusal(cls, refusal: WrongRegion) -> WrongRegionError:
        return cls(message=refusal.message, home_region=refusal.home_region, endpoint=refusal.endpoint)
