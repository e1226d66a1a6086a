"""Attachments on S3-compatible storage (ATTACHMENT_S3_BUCKET, docs/attachments.md), against a real local S3 server
(moto's): stored encrypted as private objects, read back for extraction and download, deleted with their row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, TestCase

from attachments.models import Attachment
from tests.attachments import files
from tests.attachments.test_upload import celery_eager, state, upload  # noqa: F401 - celery_eager: a fixture
from tests.live import free_port

BUCKET = "officeai-attachments"


@pytest.fixture
def s3(settings: Any) -> Iterator[Any]:
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    keys = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys)
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": keys["aws_access_key_id"],
                "secret_key": keys["aws_secret_access_key"],
                "location": "attachments",
                "default_acl": "private",
                "file_overwrite": False,
            },
        },
    }
    try:
        yield client
    finally:
        server.stop()


def objects(client: Any) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def test_files_live_encrypted_in_the_bucket_are_read_back_and_go_with_their_row(
    client_a: Client, tenant_a: Any, s3: Any
) -> None:
    pdf = files.pdf_with_text()
    response = upload(client_a, "議事録.pdf", pdf, "application/pdf")
    assert response.status_code == 201, response.content
    attachment_id = response.json()["attachment"]["id"]
    assert state(client_a, attachment_id)["status"] == "ready"  # read back from the bucket by the task
    stored = objects(s3)
    (key,) = stored
    assert key.startswith(f"attachments/{tenant_a.pk}/")
    assert b"%PDF" not in stored[key]  # encrypted before it left the process
    assert files.JAPANESE.encode() not in stored[key]
    assert client_a.get(f"/api/attachments/{attachment_id}/download").content == pdf

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert client_a.post(f"/api/attachments/{attachment_id}/delete/").status_code == 200
    assert objects(s3) == {}
    assert not Attachment.objects.exists()
