"""Reading an uploaded text file: multipart ``file`` or the raw request body, UTF-8 (BOM allowed)."""
from __future__ import annotations

from flask import request

from .errors import ApiError


def uploaded_text(what: str = "file") -> tuple[str, str]:
    """The upload's text and file name ('' for a raw body); 400 ``invalid_file`` if not UTF-8."""
    upload = request.files.get("file")
    raw = upload.read() if upload else request.get_data()
    try:
        return raw.decode("utf-8-sig"), (upload.filename or "") if upload else ""
    except UnicodeDecodeError:
        raise ApiError("invalid_file", status=400, detail=f"{what} must be UTF-8") from None
