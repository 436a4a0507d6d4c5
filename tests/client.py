"""A small GraphQL client over real HTTP, and helpers that walk the upload flow like a client."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from tests import plain_http

OPERATIONS = Path(__file__).resolve().parent.parent / "gql" / "operations"
PASSWORD = "correct horse battery"


@cache
def operation(name: str) -> str:
    """The operation document ``gql/operations/*/{name}.graphql``."""
    (path,) = OPERATIONS.glob(f"*/{name}.graphql")
    return path.read_text()


@dataclass
class User:
    token: str
    id: str
    email: str


class Api:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = plain_http.Client(base_url=base_url, timeout=60)

    def call(self, name: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        """The whole response of operation ``name`` (a file in gql/operations), errors included."""
        return self.raw(operation(name), variables, token)

    def raw(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    def data(self, name: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        """The data of a call that must not fail."""
        body = self.call(name, variables, token)
        assert "errors" not in body, body
        return body["data"]

    def sign_up(self, plan: str = "FREE", email: str | None = None) -> User:
        email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
        result = self.data("SignUp", {"input": {"email": email, "password": PASSWORD, "plan": plan}})["signUp"]
        assert result["__typename"] == "AuthPayload", result
        return User(token=result["token"], id=result["account"]["id"], email=email)

    def request_upload(self, user: User, **input: Any) -> dict[str, Any]:
        fields = {"filename": "notes.txt", "contentType": "text/plain", "size": 11, **input}
        return self.data("RequestUpload", {"input": fields}, user.token)["requestUpload"]

    def complete(self, user: User, document_id: str) -> dict[str, Any]:
        return self.data("CompleteUpload", {"input": {"documentId": document_id}}, user.token)["completeUpload"]

    def submit(self, user: User, content: bytes, **input: Any) -> dict[str, Any]:
        """Request a form, post ``content`` to S3 with it, complete: the PROCESSING document."""
        form = self.request_upload(user, size=len(content), **input)
        assert form["__typename"] == "UploadForm", form
        post_form(form, content)
        document = self.complete(user, form["documentId"])
        assert document["__typename"] == "Document", document
        assert document["status"] == "PROCESSING", document
        return document

    def upload(self, user: User, content: bytes, **input: Any) -> dict[str, Any]:
        """:meth:`submit`, then wait for the pipeline: the document as completeUpload answered,
        with the status it ended in."""
        document = self.submit(user, content, **input)
        return {**document, "status": self.settled(user, document["id"])["status"]}

    def settled(self, user: User, document_id: str, timeout: float = 60) -> dict[str, Any]:
        """The document once the pipeline is done with it (no longer PROCESSING)."""
        deadline = time.monotonic() + timeout
        while True:
            document = self.data("Document", {"id": document_id}, user.token)["document"]
            if document["status"] != "PROCESSING":
                return document
            assert time.monotonic() < deadline, f"{document_id} still PROCESSING after {timeout} s"
            time.sleep(0.05)

    def share(self, owner: User, document_id: str, grantee: User, role: str = "VIEWER") -> dict[str, Any]:
        """Share the owner's document with ``grantee`` as ``role``: the ``Share``."""
        variables = {"input": {"documentId": document_id, "email": grantee.email, "role": role}}
        result = self.data("ShareDocument", variables, owner.token)["shareDocument"]
        assert result["__typename"] == "Share", result
        return result

    def usage(self, user: User) -> dict[str, Any]:
        return self.data("Me", token=user.token)["me"]["usage"]


def post_form(form: dict[str, Any], content: bytes, filename: str = "upload.bin") -> httpx.Response:
    """POST ``content`` to S3 as a browser would: every field, then the file last."""
    fields = {field["name"]: field["value"] for field in form["fields"]}
    response = plain_http.post(form["url"], data=fields, files={"file": (filename, content)}, timeout=60)
    assert response.status_code in (201, 303), response.text
    return response


def sample(content_type: str, label: str) -> bytes:
    """Real bytes of ``content_type`` that say ``label``: the pipeline checks types by their bytes."""
    if content_type == "application/pdf":
        from fpdf import FPDF

        pdf = FPDF()
        pdf.set_font("Helvetica", size=14)
        pdf.add_page()
        pdf.cell(text=label)
        return bytes(pdf.output())
    if content_type == "application/zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("label.txt", label)
        return buffer.getvalue()
    if content_type == "application/json":
        return json.dumps({"label": label}).encode()
    return f"{label}\n".encode()


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code", "") for error in body.get("errors", [])]
