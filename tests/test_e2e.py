"""The whole first slice, as a client sees it, against a real uvicorn and moto's server."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import uuid
import zipfile
from pathlib import Path

import boto3

from domain import content_hash
from tests import plain_http, serving
from tests.adapters.test_malloc import thread_arenas
from tests.client import Api, User, post_form
from tests.conftest import documents_of, objects_under
from tests.domain.test_content_hash import independent
from tests.serving import docstore, on_aws, start


def test_upload_list_download_delete_round_trip(api: Api, user: User, store) -> None:
    content = b"%PDF-1.4\n" + bytes(range(256)) * 40
    form = api.request_upload(
        user,
        filename="Quarterly report.pdf",
        contentType="application/pdf",
        size=len(content),
        tags=["finance", "q3"],
        description="Numbers for Q3",
    )
    assert form["__typename"] == "UploadForm"
    assert form["maxBytes"] == len(content)
    assert api.usage(user) == {
        "usedBytes": 0,
        "reservedBytes": len(content),
        "limitBytes": 5 * 1024**3,
        "documentCount": 0,
    }

    post_form(form, content)
    document = api.complete(user, form["documentId"])

    assert document["status"] == "PROCESSING"
    assert api.settled(user, form["documentId"])["status"] == "READY"
    assert document["size"] == len(content)
    assert document["checksum"] == hashlib.md5(content).hexdigest()
    assert document["name"] == "Quarterly report.pdf"
    assert document["tags"] == ["finance", "q3"]
    assert api.usage(user) == {
        "usedBytes": len(content),
        "reservedBytes": 0,
        "limitBytes": 5 * 1024**3,
        "documentCount": 1,
    }

    listing = api.data("Documents", token=user.token)["documents"]
    assert [edge["node"]["id"] for edge in listing["edges"]] == [form["documentId"]]

    fetched = api.data("Document", {"id": form["documentId"]}, user.token)["document"]
    assert fetched["contentHash"] == independent(content)
    download = plain_http.get(fetched["downloadUrl"], timeout=30)
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"Quarterly report.pdf\"; filename*=UTF-8''Quarterly%20report.pdf"
    )

    deleted = api.data("DeleteDocument", {"input": {"id": form["documentId"]}}, user.token)["deleteDocument"]
    assert deleted == {"__typename": "DeleteDocumentPayload", "id": form["documentId"], "freedBytes": len(content)}
    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": 5 * 1024**3, "documentCount": 0}
    assert objects_under(store, user.id) == []
    assert documents_of(user.id) == []
    assert api.data("Documents", token=user.token)["documents"]["edges"] == []


def test_request_body_over_the_limit_is_refused_before_graphql(api: Api) -> None:
    response = api.http.post(
        "/graphql",
        content=b'{"query": "' + b"x" * 4_000_001 + b'"}',
        headers={"content-type": "application/json"},
    )

    assert (response.status_code, response.headers["content-type"], response.json()) == (
        413,
        "application/json",
        {
            "errors": [
                {
                    "message": "The request body is over the limit of 4,000,000 bytes.",
                    "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                }
            ]
        },
    )


def test_health_endpoint_answers_while_the_process_is_up(api: Api) -> None:
    response = api.http.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_premium_scan_is_read_by_ocr_and_its_text_stored(api: Api, store, tmp_path) -> None:
    from models import documents
    from tests.workers import files

    user = api.sign_up(plan="PREMIUM")
    scan = files.image_file(tmp_path / "scan.png", "INVOICE 4711", "TOTAL 99 EUR", format="PNG").read_bytes()

    document = api.upload(user, scan, filename="scan.png", contentType="image/png")

    assert document["status"] == "READY"
    record = documents.get(user.id, document["id"])
    assert record.text_key == f"{user.id}/{document['id']}/text.txt"
    text = store.get_text(record.text_key)
    assert "INVOICE 4711" in text
    assert "TOTAL 99 EUR" in text


def test_free_scan_is_stored_without_text(api: Api, user: User, store, tmp_path) -> None:
    from models import documents, keys
    from tests.workers import files

    scan = files.image_file(tmp_path / "scan.png", "INVOICE 4711", format="PNG").read_bytes()

    document = api.upload(user, scan, filename="scan.png", contentType="image/png")

    assert document["status"] == "READY"
    record = documents.get(user.id, document["id"])
    assert record.text_key is None
    # The original, and its two thumbnails (for every plan).
    thumbnails = [keys.thumbnail(user.id, record.document_id, record.content_hash, px) for px in (256, 1024)]
    assert sorted(item["Key"] for item in objects_under(store, user.id)) == sorted([record.object_key, *thumbnails])


def test_a_file_of_several_blocks_reads_with_the_content_hash_a_client_computes(api: Api, user: User) -> None:
    content = b"\x1f\x8b" + os.urandom(6 * 1024 * 1024)  # two 4 MiB blocks, the second shorter
    document = api.upload(user, content, filename="archive.gz", contentType="application/gzip")
    assert document["status"] == "READY"

    fetched = api.data("Document", {"id": document["id"]}, user.token)["document"]
    downloaded = plain_http.get(fetched["downloadUrl"], timeout=30).content

    assert fetched["contentHash"] == independent(content) == independent(downloaded)
    assert fetched["contentHash"] != hashlib.sha256(content).hexdigest()


def test_a_multipart_upload_of_several_mib_in_parallel_parts_against_docstore_serve(tmp_path) -> None:
    # The embedded default, with parts of S3's smallest size so that 12 MiB make three parts.
    served = serving.start(
        "serve",
        env=serving.clean_env(DOCSTORE_LOG_FORMAT="text", DOCSTORE_MULTIPART_PART_BYTES=str(5 * 1024 * 1024)),
        data_dir=tmp_path / "data",
        timeout=120,
    )
    try:
        api = Api(served.url)
        user = api.sign_up()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("random.bin", os.urandom(12 * 1024 * 1024))
        content = buffer.getvalue()

        started = api.data(
            "RequestMultipartUpload",
            {"input": {"filename": "random.zip", "contentType": "application/zip", "size": len(content)}},
            user.token,
        )["requestMultipartUpload"]
        assert (started["partSize"], started["partCount"]) == (5 * 1024 * 1024, 3)
        size = started["partSize"]
        signed = api.data(
            "SignUploadParts",
            {"input": {"documentId": started["documentId"], "partNumbers": [1, 2, 3]}},
            user.token,
        )["signUploadParts"]

        async def put_all() -> list[dict[str, object]]:
            async with plain_http.AsyncClient(timeout=120) as client:

                async def put(part: dict[str, object]) -> dict[str, object]:
                    number = int(str(part["number"]))
                    body = content[(number - 1) * size : number * size]
                    response = await client.put(str(part["url"]), content=body)
                    assert response.status_code == 200, response.text
                    return {"number": number, "etag": response.headers["ETag"]}

                return list(await asyncio.gather(*(put(part) for part in signed["parts"])))

        parts = asyncio.run(put_all())
        listed = api.data("UploadedParts", {"documentId": started["documentId"]}, user.token)["uploadedParts"]
        assert [(part["number"], part["size"]) for part in listed] == [
            (1, size),
            (2, size),
            (3, len(content) - 2 * size),
        ]
        completed = api.data(
            "CompleteMultipartUpload",
            {"input": {"documentId": started["documentId"], "parts": parts}},
            user.token,
        )["completeMultipartUpload"]
        assert (completed["__typename"], completed["status"], completed["size"]) == (
            "Document",
            "PROCESSING",
            len(content),
        )

        ready = api.settled(user, started["documentId"], timeout=120)

        assert (ready["status"], ready["size"]) == ("READY", len(content))
        # Parts of 5 MiB, blocks of 4 MiB: the hash is of the assembled bytes, however they were cut.
        assert ready["contentHash"] == independent(content)
        assert plain_http.get(ready["downloadUrl"], timeout=120).content == content
        assert api.usage(user) == {
            "usedBytes": len(content),
            "reservedBytes": 0,
            "limitBytes": 5 * 1024**3,
            "documentCount": 1,
        }
    finally:
        served.stop()


def test_paths_survive_an_upgrade_from_records_without_them(aws_endpoint: str, target, tmp_path: Path) -> None:
    """A deployment whose records were written before paths: `docstore init` (as after an upgrade)
    gives each its path, oldest first, unique, and the server then numbers new uploads after them."""
    prefix = f"paths-{uuid.uuid4().hex[:8]}"
    env = on_aws(aws_endpoint, prefix, DOCSTORE_RUN_WORKERS="false")
    assert docstore("init", env=env).returncode == 0
    server = start("serve", env=env, data_dir=tmp_path)
    try:
        api = Api(server.url)
        user = api.sign_up()
        older = api.request_upload(user, filename="report.pdf")["documentId"]
        newer = api.request_upload(user, filename="Report.pdf")["documentId"]
    finally:
        server.stop()
    # As a DocStore before paths left them: no path on the records, no claims, no backfill done.
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=aws_endpoint,
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for document_id in (older, newer):
        dynamodb.update_item(
            TableName=f"{prefix}-documents",
            Key={"owner_id": {"S": user.id}, "document_id": {"S": document_id}},
            UpdateExpression="REMOVE #p, path_key",
            ExpressionAttributeNames={"#p": "path"},
        )
    for item in dynamodb.scan(TableName=f"{prefix}-paths")["Items"]:
        dynamodb.delete_item(
            TableName=f"{prefix}-paths", Key={"owner_id": item["owner_id"], "path_key": item["path_key"]}
        )

    upgraded = docstore("init", env=env)

    assert upgraded.returncode == 0, upgraded.stderr
    assert "paths for 2 documents stored before paths" in upgraded.stdout + upgraded.stderr
    server = start("serve", env=env, data_dir=tmp_path)
    try:
        api = Api(server.url)
        paths = [api.data("Document", {"id": i}, user.token)["document"]["path"] for i in (older, newer)]
        third = api.request_upload(user, filename="report.pdf")["documentId"]
        third_path = api.data("Document", {"id": third}, user.token)["document"]["path"]
    finally:
        server.stop()
    assert (paths, third_path) == (["/report.pdf", "/Report (1).pdf"], "/report (2).pdf")
    claims = dynamodb.scan(TableName=f"{prefix}-paths")["Items"]
    held = {item["path_key"]["S"]: item["document_id"]["S"] for item in claims if item["owner_id"]["S"] == user.id}
    assert held == {"/report.pdf": older, "/report (1).pdf": newer, "/report (2).pdf": third}


def test_a_sync_client_compares_its_tree_with_compare_checksums_against_docstore_serve(tmp_path) -> None:
    # The embedded default, as a sync client meets it: files of several MB, hashed on the client.
    served = serving.start(
        "serve", env=serving.clean_env(DOCSTORE_LOG_FORMAT="text"), data_dir=tmp_path / "data", timeout=120
    )
    try:
        api = Api(served.url)
        user, stranger = api.sign_up(), api.sign_up()
        big = b"\x1f\x8b" + os.urandom(9 * 1024 * 1024)  # three 4 MiB blocks
        edited = b"\x1f\x8b" + os.urandom(5 * 1024 * 1024)
        uploaded = {
            path: api.upload(user, content, filename=path.rpartition("/")[2], contentType=kind, path=path)
            for path, content, kind in [
                ("/Tree/big.gz", big, "application/gzip"),
                ("/Tree/edited.gz", edited, "application/gzip"),
                ("/Tree/only here.txt", b"the server's alone", "text/plain"),
                ("/elsewhere.txt", b"outside the tree", "text/plain"),
            ]
        }
        assert {document["status"] for document in uploaded.values()} == {"READY"}
        api.upload(stranger, b"a stranger's", filename="x.txt", contentType="text/plain", path="/tree/theirs.txt")
        local = {
            "/tree/BIG.gz": big,  # another spelling of the same path
            "/tree/edited.gz": edited[:-1] + b"!",  # edited on the client
            "/tree/new.txt": b"the client's alone",
        }
        files = [{"path": path, "contentHash": content_hash.of_bytes(content)} for path, content in local.items()]

        answer = api.data("CompareChecksums", {"input": {"files": files, "pathPrefix": "/tree/"}}, user.token)

        compared = answer["compareChecksums"]
        assert [(item["path"], item["state"]) for item in compared] == [
            ("/tree/BIG.gz", "UNCHANGED"),
            ("/tree/edited.gz", "DIFFERENT"),
            ("/tree/new.txt", "NOT_ON_SERVER"),
            ("/Tree/only here.txt", "NOT_ON_CLIENT"),
        ]
        assert compared[0]["document"]["contentHash"] == independent(big)
        assert plain_http.get(compared[1]["document"]["downloadUrl"], timeout=60).content == edited
        assert plain_http.get(compared[3]["document"]["downloadUrl"], timeout=60).content == b"the server's alone"

        # The client takes the server's bytes: the same call now finds them equal.
        files[1]["contentHash"] = content_hash.of_bytes(edited)
        again = api.data("CompareChecksums", {"input": {"files": files, "pathPrefix": "/tree/"}}, user.token)
        assert [item["state"] for item in again["compareChecksums"]] == [
            "UNCHANGED",
            "UNCHANGED",
            "NOT_ON_SERVER",
            "NOT_ON_CLIENT",
        ]
    finally:
        served.stop()


def test_two_versions_of_a_file_against_docstore_serve(tmp_path) -> None:
    """Two versions of a real multi-KB text file through `docstore serve` (the embedded default):
    the current one is downloaded and searched, the first stays listed and downloadable, a restore
    brings its text back to search, and a delete frees every version."""
    served = serving.start("serve", env=serving.clean_env(DOCSTORE_LOG_FORMAT="text"), data_dir=tmp_path / "data")
    try:
        api = Api(served.url)
        user = api.sign_up(plan="PREMIUM")
        first_text = b"".join(b"Minutes %d: the committee discussed marmosets at length.\n" % n for n in range(200))
        second_text = b"".join(b"Minutes %d: the committee discussed zeppelins instead.\n" % n for n in range(300))

        first = api.upload(user, first_text, filename="minutes.txt", contentType="text/plain")
        form = api.request_upload(
            user, filename="minutes.txt", contentType="text/plain", size=len(second_text), mode="OVERWRITE"
        )
        post_form(form, second_text)
        completed = api.complete(user, form["documentId"])

        assert (first["status"], completed["id"]) == ("READY", first["id"])
        ready = api.settled(user, first["id"], timeout=120)
        assert ready["status"] == "READY"
        assert plain_http.get(ready["downloadUrl"], timeout=60).content == second_text
        assert ready["contentHash"] == independent(second_text)
        listed = api.data("DocumentVersions", {"id": first["id"]}, user.token)["document"]
        versions = [edge["node"] for edge in listed["versions"]["edges"]]
        assert [(v["version"], v["current"], v["contentHash"]) for v in versions] == [
            (2, True, independent(second_text)),
            (1, False, independent(first_text)),
        ]
        assert plain_http.get(versions[1]["downloadUrl"], timeout=60).content == first_text

        def found(word: str) -> list[str]:
            edges = api.data("Search", {"query": word}, user.token)["search"]["edges"]
            return [edge["node"]["document"]["id"] for edge in edges]

        assert (found("zeppelins"), found("marmosets")) == ([first["id"]], [])
        assert api.usage(user)["usedBytes"] == len(first_text) + len(second_text)

        restored = api.data("RestoreVersion", {"input": {"documentId": first["id"], "version": 1}}, user.token)[
            "restoreVersion"
        ]
        assert (restored["__typename"], restored["version"]) == ("Document", 3)
        assert api.settled(user, first["id"], timeout=120)["status"] == "READY"
        assert (found("marmosets"), found("zeppelins")) == ([first["id"]], [])

        deleted = api.data("DeleteDocument", {"input": {"id": first["id"]}}, user.token)["deleteDocument"]
        assert deleted["freedBytes"] == 2 * len(first_text) + len(second_text)
        assert api.usage(user)["usedBytes"] == 0
    finally:
        served.stop()


def test_docstore_serve_keeps_to_its_malloc_arena_limit(tmp_path) -> None:
    """``DOCSTORE_MALLOC_ARENAS``: with 1, the API process's threads (the resolvers' pool, the
    workers', the index's) all allocate from the main arena; glibc's default made 16 under load."""
    served = serving.start(
        "serve", env=serving.clean_env(DOCSTORE_MALLOC_ARENAS="1"), data_dir=tmp_path / "data", timeout=120
    )
    try:
        api = Api(served.url)
        users = [api.sign_up() for _ in range(3)]
        for user in users:
            assert api.data("Documents", {"first": 5}, user.token)["documents"]["edges"] == []
        assert thread_arenas(served.pid) == 0
    finally:
        served.stop()
