"""DocStore's public GraphQL API as the terminal client calls it: the operation documents in
``gql/operations/``, run with gql over HTTP (httpx) and over graphql-transport-ws (websockets).

Every way a call can fail ends here as a :class:`ClientError` whose text is a sentence for the
person at the terminal; nothing of the server's internals is imported (the client is a client).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.httpx import HTTPXTransport
from gql.transport.websockets import WebsocketsTransport

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from types import TracebackType

    from gql.client import SyncClientSession

#: The operation documents the web app, the tests and this client share: the one source of truth.
OPERATIONS = Path(__file__).resolve().parent.parent / "gql" / "operations"
DEFAULT_API = "http://127.0.0.1:8000/graphql"
#: Seconds one HTTP call may take: a password hash queued behind others, a listing of 100.
TIMEOUT_SECONDS = 60.0


class ClientError(Exception):
    """A call that failed, said as a sentence (the command prints it and exits non-zero)."""


class NotSignedIn(ClientError):
    """No token, or the API no longer accepts it."""


class Refused(ClientError):
    """A top-level GraphQL error other than a sign-in one: its ``extensions.code`` (``NOT_FOUND``,
    ``BAD_USER_INPUT``, ``CONFLICT``, ...) and, for bad input, each ``{field, message}``."""

    def __init__(self, message: str, code: str | None = None, fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.fields = fields or []


@cache
def operation(name: str) -> GraphQLRequest:
    """The parsed document ``gql/operations/*/{name}.graphql``."""
    (path,) = OPERATIONS.glob(f"*/{name}.graphql")
    return GraphQLRequest(path.read_text())


def websocket_url(api: str) -> str:
    """The subscriptions' address: the same path as the HTTP API, over ws:// or wss://."""
    if api.startswith("https://"):
        return "wss://" + api.removeprefix("https://")
    return "ws://" + api.removeprefix("http://")


class Api:
    """One signed-in (or anonymous) client of the API at ``url``; use it as a context manager.

    ``token_source`` names where the token came from, for the sentence said when it is refused.
    """

    def __init__(self, url: str, token: str | None = None, token_source: str = "") -> None:
        self.url = url
        self.token = token
        self.token_source = token_source
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = Client(transport=HTTPXTransport(url=url, headers=headers, timeout=TIMEOUT_SECONDS))
        self._session: SyncClientSession | None = None

    def __enter__(self) -> Api:
        self._session = self._client.connect_sync()  # type: ignore[no-untyped-call]  # gql leaves it unannotated
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._session = None
        self._client.close_sync()  # type: ignore[no-untyped-call]

    def call(self, name: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of operation ``name``; :class:`ClientError` when it fails as a whole."""
        assert self._session is not None, "use Api as a context manager"
        request = GraphQLRequest(operation(name), variable_values=variables)
        try:
            return self._session.execute(request)
        except TransportQueryError as error:
            raise self._refused(error.errors or []) from None
        except TransportConnectionFailed:
            raise ClientError(f"Cannot reach DocStore at {self.url}: is it running? (`make serve` starts it)") from None
        except TransportServerError as error:
            raise ClientError(f"DocStore at {self.url} answered HTTP {error.code}: {error}") from None
        except TransportProtocolError:
            raise ClientError(f"{self.url} does not answer as a DocStore API.") from None
        except TransportError as error:
            raise ClientError(f"The call to {self.url} failed: {error}") from None

    async def subscribe(self, name: str, variables: dict[str, Any] | None = None) -> AsyncIterator[dict[str, Any]]:
        """The events of subscription ``name``, over graphql-transport-ws, the token in
        ``connection_init``; :class:`ClientError` when the API refuses or ends it."""
        transport = WebsocketsTransport(
            url=websocket_url(self.url),
            init_payload={"authorization": f"Bearer {self.token}"} if self.token else {},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        request = GraphQLRequest(operation(name), variable_values=variables)
        try:
            async with Client(transport=transport) as session:
                async for event in session.subscribe(request):
                    yield event
        except TransportQueryError as error:
            raise self._refused(error.errors or []) from None
        except (TransportError, OSError) as error:
            raise ClientError(f"The live events from {self.url} stopped: {error}") from None

    def _refused(self, errors: list[Any]) -> ClientError:
        """The sentence for a top-level GraphQL error."""
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        extensions = first.get("extensions") or {}
        message = str(first.get("message") or "The API refused the call.")
        code = extensions.get("code")
        if code == "UNAUTHENTICATED":
            if self.token_source == "DOCSTORE_TOKEN":
                return NotSignedIn("The token in DOCSTORE_TOKEN is not valid (any more): unset it or get a new one.")
            return NotSignedIn("Not signed in, or the session has ended: run `docstore login`.")
        if code == "WRONG_REGION":
            home = extensions.get("endpoint", "")
            return NotSignedIn(f"{message} Run `docstore login --api {home}/graphql`.")
        fields = extensions.get("fields")
        return Refused(message, code if isinstance(code, str) else None, fields if isinstance(fields, list) else None)
