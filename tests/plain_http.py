"""httpx for the tests, with one TLS context made once.

httpx makes an ``ssl.SSLContext`` for every client, the one behind each ``httpx.get`` and
``httpx.post`` included, and making one reads the whole CA bundle: 68 ms here. The tests speak
plain HTTP to 127.0.0.1, yet paid that for every S3 form post and every download; a profile of
``test_ownership`` found its test thread spending about half its time in ``create_default_context``.
These stand-ins take httpx's own arguments and hand it one context made at import (0.2 ms a client).
"""

from __future__ import annotations

import functools

import httpx

TLS = httpx.create_ssl_context()

get = functools.partial(httpx.get, verify=TLS)
post = functools.partial(httpx.post, verify=TLS)
put = functools.partial(httpx.put, verify=TLS)
head = functools.partial(httpx.head, verify=TLS)
delete = functools.partial(httpx.delete, verify=TLS)
options = functools.partial(httpx.options, verify=TLS)
request = functools.partial(httpx.request, verify=TLS)
stream = functools.partial(httpx.stream, verify=TLS)
Client = functools.partial(httpx.Client, verify=TLS)
AsyncClient = functools.partial(httpx.AsyncClient, verify=TLS)
