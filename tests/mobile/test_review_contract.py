"""Review: what the OpenAPI document promises a generated client, against what the server
does (found by schemathesis with all its checks: docs/mobile.md, the fuzz run of the review)."""
from __future__ import annotations

import io

import pytest
from PIL import Image


def spec(client) -> dict:
    return client.get("/api/openapi.json").json


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize(("path", "fields"), [("/api/v1/attachments", {"file", "kind"}),
                                              ("/api/v1/public/photos", {"file"})])
def test_photo_uploads_document_their_multipart_body(client, path, fields):
    """Both uploads read ``request.files`` in the view: the document described no request
    body at all, so a client generated from it could not send a photo, and schemathesis found
    'schema-valid' empty requests refused with 422 naming ``file``."""
    body = spec(client)["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["file"] and set(schema["properties"]) == fields
    assert schema["properties"]["file"]["format"] == "binary"


def test_a_documented_citizen_upload_is_accepted(client):
    r = client.post("/api/v1/public/photos", data={"file": (io.BytesIO(png()), "p.png")},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.json
