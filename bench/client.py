"""What the benchmarks that drive the API over HTTP share: the operation documents, a GraphQL call
that must not fail, and a fresh account."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

OPERATIONS = Path(__file__).resolve().parent.parent / "gql" / "operations"
PASSWORD = "bench horse battery staple"


def operation(name: str) -> str:
    """The document of operation ``name`` (``gql/operations/*/{name}.graphql``)."""
    (path,) = OPERATIONS.glob(f"*/{name}.graphql")
    return path.read_text()


def graphql(http: httpx.Client, name: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    """The data of operation ``name``; ``RuntimeError`` for any error or a status other than 200."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = http.post("/graphql", json={"query": operation(name), "variables": variables}, headers=headers)
    body: dict[str, Any] = response.json()
    if response.status_code != 200 or "errors" in body:
        raise RuntimeError(f"{name} failed ({response.status_code}): {str(body)[:500]}")
    data: dict[str, Any] = body["data"]
    return data


def sign_up(http: httpx.Client) -> tuple[str, str]:
    """A new account: its token and id."""
    email = f"bench-{time.time_ns()}@example.com"
    payload = graphql(http, "SignUp", {"input": {"email": email, "password": PASSWORD}})["signUp"]
    if payload["__typename"] != "AuthPayload":
        raise RuntimeError(f"sign-up failed: {payload}")
    return str(payload["token"]), str(payload["account"]["id"])
