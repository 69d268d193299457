"""Photos (附件): uploaded once, stored by content, referenced by id from case actions.

A file is stored under ``<media>/<sha256[:2]>/<sha256>`` where ``<media>`` is
``WANGGE_MEDIA_DIR`` or ``<WANGGE_DATA_DIR>/media``; identical bytes are stored once. Only
JPEG, PNG and WebP images that Pillow can verify are accepted. A thumbnail (at most 320 px
on the long side) is made in the background (``wangge.jobs.enqueue``: inline in the embedded
default, an rq worker in production) beside the original as ``<sha256>.thumb.jpg`` (or
``.png`` for images with transparency). The thumbnail job needs only the stored file, so it
works even when the worker runs before the upload's transaction is committed."""
from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
from pathlib import Path

from flask import current_app, has_request_context
from sqlalchemy import select, update

from grid.models import Staff
from wangge.errors import ApiError, NotFound, validation_error
from wangge.i18n import current_language
from wangge.jobs import enqueue, with_app

from .models import Attachment, Case
from .scope import visible

log = logging.getLogger(__name__)

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 60_000_000          # refuse decompression bombs long before Pillow's own limit
THUMBNAIL_SIZE = 320


def _say(zh: str, en: str) -> str:
    return en if current_language() == "en" else zh


def settings():
    return current_app.config["WANGGE"]


def max_bytes() -> int:
    """10 MB unless the app config says otherwise (``Settings(extra={"ATTACHMENT_MAX_BYTES": n})``)."""
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def media_root() -> Path:
    s = settings()
    return Path(s.media_dir or Path(s.data_dir) / "media").resolve()


def relative_path(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256}"


def thumbnail_relative_path(sha256: str, suffix: str) -> str:
    return f"{sha256[:2]}/{sha256}.thumb.{suffix}"


def absolute(relative: str) -> Path:
    return media_root() / relative


# --- upload ------------------------------------------------------------------------------

def inspect_image(data: bytes) -> tuple[str, int, int]:
    """(content type, width, height) of a JPEG/PNG/WebP image, or a 422 saying why not."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format, img.size
            if fmt not in FORMATS:
                raise ApiError("unsupported_image", status=422, message=_say(
                    f"不支持的图片格式 {fmt}：只接受 JPEG、PNG、WebP",
                    f"unsupported image format {fmt}: only JPEG, PNG and WebP"))
            if width * height > MAX_PIXELS:
                raise ApiError("unsupported_image", status=422, message=_say(
                    f"图片像素过多（{width}×{height}）", f"image too large in pixels ({width}x{height})"))
            img.verify()
        with Image.open(io.BytesIO(data)) as img:  # verify() leaves the image unusable; decode fully
            img.load()
    except ApiError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise ApiError("not_an_image", status=422, message=_say(
            "文件不是图片（只接受 JPEG、PNG、WebP）", "the file is not an image (JPEG, PNG or WebP only)")) from None
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt data raises OSError, SyntaxError, ...
        raise ApiError("not_an_image", status=422, message=_say(
            f"图片已损坏，无法读取（{exc}）", f"the image is damaged and cannot be read ({exc})")) from None
    return FORMATS[fmt], width, height


def _write_once(target: Path, data: bytes) -> None:
    if target.exists() and target.stat().st_size == len(data):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)  # atomic: a reader never sees half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _clean_name(name: str | None) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip().replace("\x00", "")
    return (name or "upload")[:255]


def read_limited(stream) -> bytes:
    limit = max_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ApiError("file_too_large", status=413, message=_say(
            f"文件过大：最大 {limit // (1024 * 1024)} MB", f"file too large: at most {limit // (1024 * 1024)} MB"))
    return data


def store(session, data: bytes, filename: str | None, uploader: Staff | None) -> tuple[Attachment, bool]:
    """Keep an uploaded image; (attachment, created). The same uploader sending the same bytes
    again before attaching them (a retry) gets the same attachment back."""
    if len(data) > max_bytes():
        raise ApiError("file_too_large", status=413)
    if not data:
        raise validation_error({"file": ["empty file"]})
    content_type, _, _ = inspect_image(data)
    sha = hashlib.sha256(data).hexdigest()
    if uploader is not None:
        again = session.scalar(select(Attachment).where(
            Attachment.sha256 == sha, Attachment.uploaded_by == uploader.id, Attachment.case_id.is_(None))
            .order_by(Attachment.id).limit(1))
        if again is not None:
            return again, False
    _write_once(absolute(relative_path(sha)), data)
    thumb = existing_thumbnail(sha)
    attachment = Attachment(uploaded_by=uploader.id if uploader else None, filename=_clean_name(filename),
                            content_type=content_type, size=len(data), sha256=sha, path=relative_path(sha),
                            thumbnail_path=thumb)
    session.add(attachment)
    session.flush()
    if thumb is None:
        request_thumbnail(sha)
    return attachment, True


def request_thumbnail(sha256: str) -> None:
    """Ask for the thumbnail; a failure to enqueue (Redis down) never fails the upload: the
    thumbnail endpoint asks again."""
    job_id = f"wangge-thumb-{sha256}"
    try:
        if not settings().run_jobs_inline and _job_waiting(job_id):
            return
        enqueue(make_thumbnail, sha256, job_id=job_id)
    except Exception:  # noqa: BLE001
        log.exception("could not make or enqueue the thumbnail of %s", sha256)


def _job_waiting(job_id: str) -> bool:
    """An rq job with this id is queued or running (enqueueing again would run it twice)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from wangge.jobs import redis_connection

    try:
        status = Job.fetch(job_id, connection=redis_connection()).get_status()
    except NoSuchJobError:
        return False
    return str(getattr(status, "value", status)) in {"queued", "started", "deferred", "scheduled"}


def existing_thumbnail(sha256: str) -> str | None:
    for suffix in ("jpg", "png"):
        relative = thumbnail_relative_path(sha256, suffix)
        if absolute(relative).exists():
            return relative
    return None


# --- the background job -----------------------------------------------------------------

@with_app
def make_thumbnail(sha256: str) -> str | None:
    """Make the thumbnail of a stored original (idempotent) and record it on every attachment
    with these bytes. Runs in an rq worker (its own app context) or inline."""
    from PIL import Image, ImageOps

    from wangge.extensions import db

    relative = existing_thumbnail(sha256)
    if relative is None:
        source = absolute(relative_path(sha256))
        if not source.exists():
            log.warning("thumbnail: no stored file %s", source)
            return None
        with Image.open(source) as img:
            img = ImageOps.exif_transpose(img)  # phones store rotation in EXIF
            transparent = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
            img = img.convert("RGBA" if transparent else "RGB")
            img.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
            suffix = "png" if transparent else "jpg"
            buf = io.BytesIO()
            if transparent:
                img.save(buf, "PNG", optimize=True)
            else:
                img.save(buf, "JPEG", quality=85, optimize=True)
        relative = thumbnail_relative_path(sha256, suffix)
        _write_once(absolute(relative), buf.getvalue())
    db.session.execute(update(Attachment).where(Attachment.sha256 == sha256, Attachment.thumbnail_path.is_(None))
                       .values(thumbnail_path=relative))
    if not has_request_context():
        db.session.commit()  # in a request (inline), the edge commits with the upload
    return relative


# --- who may read -----------------------------------------------------------------------

def get_readable(session, staff: Staff, attachment_id: int) -> Attachment:
    """The attachment if ``staff`` may see the case it belongs to, or uploaded it and it is
    not attached yet. Not found and not yours look the same."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound("attachment", attachment_id)
    if attachment.case_id is None:
        if attachment.uploaded_by == staff.id:
            return attachment
        raise NotFound("attachment", attachment_id)
    query = select(Case.id).where(Case.id == attachment.case_id)
    clause = visible(staff)
    if clause is not None:
        query = query.where(clause)
    if session.scalar(query) is None:
        raise NotFound("attachment", attachment_id)
    return attachment


def check_attachable(session, staff: Staff | None, ids: list[int], case: Case | None = None) -> None:
    """What a case action should check before taking attachments: each exists, and is either
    not attached yet and uploaded by the actor, or already belongs to this case."""
    problems = []
    for attachment_id in ids:
        a = session.get(Attachment, attachment_id)
        if a is None:
            problems.append(f"no attachment {attachment_id}")
        elif a.case_id is not None and (case is None or a.case_id != case.id):
            problems.append(f"attachment {attachment_id} belongs to another case")
        elif a.case_id is None and staff is not None and a.uploaded_by not in (None, staff.id):
            problems.append(f"attachment {attachment_id} was uploaded by someone else")
    if problems:
        raise validation_error({"attachments": problems})
