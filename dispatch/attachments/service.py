"""Photos (附件): uploaded once, stored by content, referenced by id from case actions.

A file is stored under ``<media>/<sha256[:2]>/<sha256>`` where ``<media>`` is
``WANGGE_MEDIA_DIR`` or ``<WANGGE_DATA_DIR>/media``; identical bytes are stored once. Only
JPEG, PNG and WebP images that Pillow can verify are accepted. A thumbnail (at most 320 px
on the long side) is made in the background (``wangge.jobs.enqueue``: inline in the embedded
default, an rq worker in production) beside the original as ``<sha256>.thumb.jpg`` (or
``.png`` for images with transparency). The thumbnail job needs only the stored file, so it
works even when the worker runs before the upload's transaction is committed.

The stored copy carries no location or device data: the container is rewritten without its
metadata segments/chunks (pixels are never re-encoded), keeping only the EXIF Orientation so
the photo still shows upright. For staff photos the capture time and GPS position are first
read into ``Attachment.captured_at`` / ``captured_lon`` / ``captured_lat``. docs/photos.md
lists exactly what is dropped and kept.

A photo is attached (``link``) when the report or action that lists it is recorded: it gets
its case, the event, its kind (the upload's, else the verb's default) and, for a staff photo,
its flags (``photo_flags``), stored then so that later threshold changes never rewrite what
the dispatcher was shown. Citizens upload with ``store_citizen`` and get a one-time token
instead of an id (``citizen_upload_ids``)."""
from __future__ import annotations

import hashlib
import io
import logging
import math
import numbers
import os
import re
import secrets
import struct
import tempfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context
from PIL import Image, ImageOps, UnidentifiedImageError
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import delete, func, or_, select, text, update

from dispatch.attachments.models import FLAGS, KINDS, Attachment
from dispatch.cases.models import Case, CaseEvent
from dispatch.cases.scope import visible
from geo.area import distance_m
from grid.models import Staff
from wangge.config import current_settings
from wangge.db_session import plain_session
from wangge.errors import ApiError, NotFound, validation_error
from wangge.extensions import db
from wangge.fields import CLOCK_SKEW
from wangge.i18n import t
from wangge.jobs import enqueue, redis_connection, with_app
from wangge.present import local_iso
from wangge.timeutil import utcnow

log = logging.getLogger(__name__)

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 60_000_000          # refuse decompression bombs long before Pillow's own limit
THUMBNAIL_SIZE = 320



def max_bytes() -> int:
    """10 MB unless the app config says otherwise (``Settings(extra={"ATTACHMENT_MAX_BYTES": n})``)."""
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def media_root() -> Path:
    s = current_settings()
    return Path(s.media_dir or Path(s.data_dir) / "media").resolve()


def relative_path(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256}"


def thumbnail_relative_path(sha256: str, suffix: str) -> str:
    return f"{sha256[:2]}/{sha256}.thumb.{suffix}"


def absolute(relative: str) -> Path:
    return media_root() / relative


# --- metadata: out of the stored copy, capture time and place into fields -------------------

EXIF_HEADER = b"Exif\x00\x00"
MAX_EXIF_READ = 1024 * 1024      # a larger EXIF block is dropped unread (phones write < 64 KB)
ORIENTATION, EXIF_IFD, GPS_IFD = 0x0112, 0x8769, 0x8825
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_STATUS = 1, 2, 3, 4, 9
CAPTURE_YEARS = range(1970, 2101)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Everything a decoder needs for pixels, colour, transparency and animation; all else is dropped
# (eXIf, tEXt/zTXt/iTXt with XMP, "Raw profile" EXIF/IPTC and comments, tIME, private chunks).
PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
            b"cICP", b"mDCV", b"cLLI", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT"}
WEBP_KEEP = {b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
WEBP_EXIF_FLAG, WEBP_XMP_FLAG = 0x08, 0x04
# JPEG application segments kept, by marker and signature: JFIF/JFXX, the ICC colour profile,
# Adobe's colour transform. Every other APPn (EXIF, XMP, MPF, FlashPix, Photoshop/IPTC, maker
# segments) and COM are dropped; non-APP segments (tables, frame, scans) are copied as they are.
JPEG_KEEP_APP = {0xE0: (b"JFIF\x00", b"JFXX\x00"), 0xE2: (b"ICC_PROFILE\x00",), 0xEE: (b"Adobe",)}
JPEG_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # ends a scan's entropy-coded data


class DamagedContainer(ValueError):
    pass


@dataclass(frozen=True)
class Stripped:
    data: bytes              # what is stored and served
    exif: bytes | None       # the original EXIF block (TIFF bytes), read for the capture fields


@dataclass(frozen=True)
class Capture:
    at: datetime | None = None
    lon: float | None = None
    lat: float | None = None


def strip_metadata(data: bytes) -> Stripped:
    """The image without its metadata, decided by the container's magic bytes (the same ones
    Pillow recognises, so every image that passes ``inspect_image`` went through here). The
    result depends only on ``data``: the same original always gives the same stored bytes."""
    try:
        if data.startswith(b"\xff\xd8\xff"):
            return _strip_jpeg(data)
        if data.startswith(PNG_SIGNATURE):
            return _strip_png(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _strip_webp(data)
    except (DamagedContainer, IndexError, ValueError) as exc:
        raise ApiError("not_an_image", status=422, message=t(
            "photo_damaged", format=_format_name(data))) from exc
    return Stripped(data, None)  # not a format we store: inspect_image says why


def _format_name(data: bytes) -> str:
    return "PNG" if data.startswith(PNG_SIGNATURE) else "WebP" if data[:4] == b"RIFF" else "JPEG"


def _orientation_tiff(orientation: int) -> bytes:
    """A minimal EXIF block: IFD0 with the one Orientation entry (SHORT), no next IFD."""
    return (b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
            + struct.pack(">HHIHH", ORIENTATION, 3, 1, orientation, 0) + struct.pack(">I", 0))


def _strip_jpeg(data: bytes) -> Stripped:
    out, exif, pos, n = [b"\xff\xd8"], None, 2, len(data)
    while pos < n:
        if data[pos] != 0xFF:
            raise DamagedContainer("marker expected")
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            break
        marker, pos = data[pos], pos + 1
        if marker == 0xD9:  # EOI: what follows (MPF secondary images with their own EXIF, trailers) goes
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.append(bytes((0xFF, marker)))
            continue
        length = int.from_bytes(data[pos:pos + 2], "big")
        if length < 2 or pos + length > n:
            raise DamagedContainer("segment runs past the end")
        payload = data[pos + 2:pos + length]
        if marker == 0xE1 and exif is None and payload.startswith(EXIF_HEADER):
            exif = payload[len(EXIF_HEADER):]
        if _keep_jpeg_segment(marker, payload):
            out.append(data[pos - 2:pos + length])
        pos += length
        if marker == 0xDA:  # start of scan: copy the entropy-coded data up to the next marker
            found = JPEG_NEXT_MARKER.search(data, pos)
            end = found.start() if found else n
            out.append(data[pos:end])
            pos = end
    out.append(b"\xff\xd9")
    orientation = _orientation(_load_exif(exif))
    if orientation:
        block = EXIF_HEADER + _orientation_tiff(orientation)
        at = 2 if out[1][:2] == b"\xff\xe0" else 1  # JFIF first if there is one, then EXIF
        out.insert(at, b"\xff\xe1" + struct.pack(">H", len(block) + 2) + block)
    return Stripped(b"".join(out), exif)


def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    if marker == 0xFE:
        return False
    if 0xE0 <= marker <= 0xEF:
        return payload.startswith(JPEG_KEEP_APP.get(marker, ()))
    return True


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _strip_png(data: bytes) -> Stripped:
    out, exif, pos, n = [PNG_SIGNATURE], None, len(PNG_SIGNATURE), len(data)
    while pos < n:
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, end = data[pos + 4:pos + 8], pos + 12 + length
        if end > n:
            raise DamagedContainer("chunk runs past the end")
        if kind == b"eXIf" and exif is None:
            exif = data[pos + 8:pos + 8 + length]
        if kind in PNG_KEEP:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    orientation = _orientation(_load_exif(exif))
    if orientation and len(out) > 1:
        out.insert(2, _png_chunk(b"eXIf", _orientation_tiff(orientation)))  # right after IHDR
    return Stripped(b"".join(out), exif)


def _strip_webp(data: bytes) -> Stripped:
    riff_end = 8 + int.from_bytes(data[4:8], "little")
    if riff_end > len(data):
        raise DamagedContainer("RIFF size beyond the end")
    chunks, exif, pos = [], None, 12
    while pos + 8 <= riff_end:
        kind, length = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if pos + 8 + length > riff_end:
            raise DamagedContainer("chunk runs past the end")
        payload = data[pos + 8:pos + 8 + length]
        if kind == b"EXIF" and exif is None:
            exif = payload
        if kind in WEBP_KEEP:
            chunks.append((kind, payload))
        pos += 8 + length + (length & 1)
    orientation = _orientation(_load_exif(exif))
    if chunks and chunks[0][0] == b"VP8X":
        header = chunks[0][1]
        flags = header[0] & ~(WEBP_EXIF_FLAG | WEBP_XMP_FLAG)
        if orientation:
            flags |= WEBP_EXIF_FLAG
            chunks.append((b"EXIF", _orientation_tiff(orientation)))  # EXIF comes after the image data
        chunks[0] = (b"VP8X", bytes((flags,)) + header[1:])
    body = b"WEBP" + b"".join(kind + struct.pack("<I", len(p)) + p + b"\x00" * (len(p) & 1) for kind, p in chunks)
    return Stripped(b"RIFF" + struct.pack("<I", len(body)) + body, exif)


# Reading EXIF: it comes from the uploader's file and may say anything (wrong types, offsets out
# of range, loops, zero denominators), so every read is guarded and what cannot be read is None.

def _load_exif(blob: bytes | None):

    if not blob or len(blob) > MAX_EXIF_READ:
        return None
    try:
        exif = Image.Exif()
        exif.load(blob)
        return exif
    except Exception:  # noqa: BLE001 - Pillow raises many kinds on corrupt EXIF
        log.info("unreadable EXIF ignored", exc_info=True)
        return None


def _get(exif, tag):
    try:
        return exif.get(tag)
    except Exception:  # noqa: BLE001
        return None


def _ifd(exif, tag) -> dict:
    if exif is None:
        return {}
    try:
        return dict(exif.get_ifd(tag))
    except Exception:  # noqa: BLE001
        return {}


def _orientation(exif) -> int | None:
    value = _get(exif, ORIENTATION) if exif is not None else None
    return value if type(value) is int and 2 <= value <= 8 else None


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip("\x00 ") if isinstance(value, str) else None


def read_capture(exif_blob: bytes | None, zone: str) -> Capture:
    """Capture time (UTC) and WGS-84 position from the original EXIF; None for whatever is
    missing or cannot be believed."""
    exif = _load_exif(exif_blob)
    if exif is None:
        return Capture()
    lon, lat = _captured_position(_ifd(exif, GPS_IFD))
    return Capture(_captured_at(_ifd(exif, EXIF_IFD), zone), lon, lat)


def _captured_at(sub: dict, zone: str) -> datetime | None:
    stamp = _text(sub.get(DATETIME_ORIGINAL))
    try:
        local = datetime.strptime((stamp or "")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if local.year not in CAPTURE_YEARS:
        return None
    zone_info = _utc_offset(_text(sub.get(OFFSET_TIME_ORIGINAL))) or ZoneInfo(zone)
    return local.replace(tzinfo=zone_info).astimezone(UTC)


def _utc_offset(text: str | None) -> timezone | None:
    found = re.fullmatch(r"([+-])(\d\d):(\d\d)", text or "")
    if not found:
        return None
    sign, hours, minutes = found.group(1), int(found.group(2)), int(found.group(3))
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if sign == "-" else delta)


def _captured_position(gps: dict) -> tuple[float | None, float | None]:
    if _text(gps.get(GPS_STATUS)) == "V":  # the receiver says the fix is void
        return None, None
    lat = _coordinate(gps.get(GPS_LAT), gps.get(GPS_LAT_REF), "N", "S", 90)
    lon = _coordinate(gps.get(GPS_LON), gps.get(GPS_LON_REF), "E", "W", 180)
    if lat is None or lon is None or (lat == 0 and lon == 0):  # 0,0: a phone without a fix
        return None, None
    return lon, lat


def _coordinate(value, ref, positive: str, negative: str, limit: float) -> float | None:
    """Degrees, minutes, seconds (rationals) and a hemisphere letter → signed decimal degrees."""
    hemisphere = (_text(ref) or "")[:1].upper()
    parts = value if isinstance(value, tuple) else (value,)
    if hemisphere not in (positive, negative) or not 1 <= len(parts) <= 3 \
            or not all(isinstance(part, numbers.Real) for part in parts):
        return None
    try:
        parts = [float(part) for part in parts]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if not all(math.isfinite(p) and p >= 0 for p in parts) or any(p >= 60 for p in parts[1:]):
        return None
    degrees = sum(p / 60 ** i for i, p in enumerate(parts))
    if degrees > limit:
        return None
    return round(-degrees if hemisphere == negative else degrees, 7)


# --- upload ------------------------------------------------------------------------------

def inspect_image(data: bytes) -> tuple[str, int, int]:
    """(content type, width, height) of a JPEG/PNG/WebP image, or a 422 saying why not."""

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format, img.size
            if fmt not in FORMATS:
                raise ApiError("unsupported_image", status=422, message=t(
                    "image_format_unsupported", format=fmt))
            if width * height > MAX_PIXELS:
                raise ApiError("unsupported_image", status=422, message=t(
                    "image_too_many_pixels", width=width, height=height))
            img.verify()
        with Image.open(io.BytesIO(data)) as img:  # verify() leaves the image unusable; decode fully
            img.load()
    except ApiError:
        raise
    except Image.DecompressionBombError:  # far beyond MAX_PIXELS: Pillow refuses to even open it
        raise ApiError("unsupported_image", status=422) from None
    except UnidentifiedImageError:
        raise ApiError("not_an_image", status=422, message=t(
            "not_an_image")) from None
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt data raises OSError, SyntaxError, ...
        raise ApiError("not_an_image", status=422, message=t(
            "image_damaged", detail=exc)) from None
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
        raise ApiError("file_too_large", status=413, message=t(
            "upload_too_large", mb=limit // (1024 * 1024)))
    return data


def check_kind(kind: str | None) -> str | None:
    """The kind a client gave (``KINDS``) or None (then the listing verb's default); 422 otherwise."""
    if kind is None or kind == "":
        return None
    if kind not in KINDS:
        raise validation_error({"kind": [t("must_be_one_of", choices=", ".join(KINDS))]})
    return kind


def store(session, data: bytes, filename: str | None, uploader: Staff | None,
          kind: str | None = None) -> tuple[Attachment, bool]:
    """Keep an uploaded image without its location and device metadata; (attachment, created).
    A staff member's photo keeps its capture time and place as fields. The same uploader sending
    the same original again before attaching it (a retry) gets the same attachment back: the
    stripping is deterministic, so the same original gives the same stored bytes and fields."""
    if len(data) > max_bytes():
        raise ApiError("file_too_large", status=413)
    if not data:
        raise validation_error({"file": [t("empty_file")]})
    stripped = strip_metadata(data)
    data = stripped.data
    content_type, _, _ = inspect_image(data)
    capture = read_capture(stripped.exif, current_settings().timezone) if uploader is not None else Capture()
    sha = hashlib.sha256(data).hexdigest()
    if uploader is not None:
        again = session.scalar(select(Attachment).where(
            Attachment.sha256 == sha, Attachment.uploaded_by == uploader.id, Attachment.case_id.is_(None),
            Attachment.kind.is_not_distinct_from(kind),
            Attachment.captured_at.is_not_distinct_from(capture.at),
            Attachment.captured_lon.is_not_distinct_from(capture.lon),
            Attachment.captured_lat.is_not_distinct_from(capture.lat))
            .order_by(Attachment.id).limit(1))
        if again is not None:
            return again, False
    # The row first, then the file, under the stored file's lock: a purge of unused uploads
    # (purge_unused_uploads) removing a file with these bytes either sees this row (and keeps
    # the file) or finishes before it, and the file is written again here.
    lock_stored_file(session, sha)
    attachment = Attachment(uploaded_by=uploader.id if uploader else None, filename=_clean_name(filename),
                            content_type=content_type, size=len(data), sha256=sha, path=relative_path(sha),
                            captured_at=capture.at, captured_lon=capture.lon,
                            captured_lat=capture.lat, kind=kind)
    session.add(attachment)
    session.flush()
    _write_once(absolute(relative_path(sha)), data)
    thumb = attachment.thumbnail_path = existing_thumbnail(sha)
    if thumb is None:
        request_thumbnail(sha)
    return attachment, True


def request_thumbnail(sha256: str) -> None:
    """Ask for the thumbnail; a failure to enqueue (Redis down) never fails the upload: the
    thumbnail endpoint asks again."""
    job_id = f"wangge-thumb-{sha256}"
    try:
        if not current_settings().run_jobs_inline and _job_waiting(job_id):
            return
        enqueue(make_thumbnail, sha256, job_id=job_id)
    except Exception:  # noqa: BLE001
        log.exception("could not make or enqueue the thumbnail of %s", sha256)


def _job_waiting(job_id: str) -> bool:
    """An rq job with this id is queued or running (enqueueing again would run it twice)."""


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

# Who else may read a photo attached to no case: parts built on dispatch add a check
# ``fn(session, staff, attachment) -> bool`` (the phone API: the dispatch center reads the
# photos of offline work kept as a conflict), so this module never imports them.
EXTRA_READERS: list = []


def register_reader(check) -> None:
    if check not in EXTRA_READERS:  # every app the process creates registers again
        EXTRA_READERS.append(check)


def get_readable(session, staff: Staff, attachment_id: int) -> Attachment:
    """The attachment if ``staff`` may see the case it belongs to, or uploaded it and it is
    not attached yet (or a registered reader allows it). Not found and not yours look the same."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound("attachment", attachment_id)
    if attachment.case_id is None:
        if attachment.uploaded_by == staff.id or any(check(session, staff, attachment) for check in EXTRA_READERS):
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
    """What a case action or report should check before taking attachments: each exists, and
    either already belongs to this case or is not attached yet and is the actor's own: a staff
    member's own upload, or (no staff member: a citizen's report) a citizen's upload whose
    token has not expired. A staff member can never attach a citizen's upload, nor a citizen a
    staff photo."""
    problems = []
    now = utcnow()
    for position, attachment_id in enumerate(ids, 1):
        a = session.get(Attachment, attachment_id)
        if staff is None:  # a citizen: ids come from their upload tokens (citizen_upload_ids)
            if a is None or a.upload_token_hash is None or a.uploaded_by is not None \
                    or (a.case_id is not None and (case is None or a.case_id != case.id)) \
                    or (a.case_id is None and (a.upload_expires_at is None or a.upload_expires_at <= now)):
                problems.append(t("photo_upload_unusable", n=position))
        elif a is None:
            problems.append(t("no_attachment", id=attachment_id))
        elif a.case_id is not None and (case is None or a.case_id != case.id):
            problems.append(t("attachment_other_case", id=attachment_id))
        elif a.case_id is None and a.uploaded_by != staff.id:
            problems.append(t("attachment_other_uploader", id=attachment_id))
    if problems:
        raise validation_error({"attachments" if staff is not None else "photos": problems})


# --- citizens' uploads ------------------------------------------------------------------

PURGE_LOCK_SPACE = 0x7068_6f74  # "phot": advisory locks of stored files, by sha256


def lock_stored_file(session, sha256: str) -> None:
    """Serialise writers and the purge of one stored file until the transaction ends
    (PostgreSQL: an advisory lock; SQLite serialises writing transactions anyway, and both
    take its write lock with their first row change before touching the file)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"),
                        {"space": PURGE_LOCK_SPACE, "key": int(sha256[:8], 16) - 2**31})


def unused_uploads_query(now: datetime):
    """Citizens' uploads no report used whose token expired more than the purge margin ago."""
    margin = timedelta(minutes=current_settings().public_photo_purge_margin_minutes)
    return select(Attachment.id).where(
        Attachment.upload_token_hash.is_not(None), Attachment.uploaded_by.is_(None),
        Attachment.case_id.is_(None), Attachment.event_id.is_(None),
        Attachment.upload_expires_at < now - margin)


def count_unused_uploads(session, now: datetime | None = None) -> int:
    return session.scalar(select(func.count()).select_from(unused_uploads_query(now or utcnow()).subquery()))


def purge_unused_uploads(session, *, now: datetime | None = None, limit: int = 200) -> dict:
    """Delete one batch (at most ``limit``) of unused citizen uploads (``unused_uploads_query``)
    and commit: the rows, and the stored file and its thumbnail when no other attachment row
    has the same bytes (a staff photo, another upload). Answers ``{"rows", "files"}``; rows <
    limit means nothing is left. Safe to run twice at once (the stored file's lock, rows
    locked and skipped)."""
    now = now or utcnow()
    query = unused_uploads_query(now).order_by(Attachment.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        session.commit()
        return {"rows": 0, "files": 0}
    shas = sorted(set(session.scalars(select(Attachment.sha256).where(Attachment.id.in_(ids)))))
    moved = []  # (tombstone, original): removed for good only once the rows' deletion is committed
    try:
        session.execute(delete(Attachment).where(Attachment.id.in_(ids)).execution_options(synchronize_session=False))
        for sha in shas:  # in order: two purges never wait on each other crosswise
            lock_stored_file(session, sha)
        kept = set(session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(shas))))
        for sha in shas:
            if sha in kept:
                continue
            for relative in (relative_path(sha), thumbnail_relative_path(sha, "jpg"), thumbnail_relative_path(sha, "png")):
                path = absolute(relative)
                if path.exists():
                    tomb = path.with_name(f".purge-{path.name}")
                    os.replace(path, tomb)
                    moved.append((tomb, path))
        session.commit()
    except BaseException:
        session.rollback()
        for tomb, path in moved:
            os.replace(tomb, path)
        raise
    for tomb, _ in moved:
        tomb.unlink(missing_ok=True)
    files = len({path.name.split(".")[0] for _, path in moved})
    log.info("purged %s unused citizen uploads, %s stored files", len(ids), files)
    return {"rows": len(ids), "files": files}


def purge_tick(session) -> dict:
    """The worker's periodic share: one bounded batch per tick."""
    return purge_unused_uploads(session)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def store_citizen(session, data: bytes, filename: str | None) -> tuple[Attachment, str]:
    """A citizen's photo: checked and stripped like a staff photo, but its capture data is not
    kept (a citizen never agreed to give us where they were). Answers the row and a one-time
    token (256 random bits; only its SHA-256 is stored) that one citizen report may use within
    ``WANGGE_PUBLIC_PHOTO_TTL_MINUTES``."""
    attachment, _ = store(session, data, filename, None, kind="before")
    token = secrets.token_urlsafe(32)
    attachment.upload_token_hash = _token_hash(token)
    attachment.upload_expires_at = utcnow() + timedelta(minutes=current_settings().public_photo_ttl_minutes)
    session.flush()
    return attachment, token


def citizen_upload_ids(session, tokens: list[str]) -> list[int]:
    """The attachments these upload tokens stand for (422 naming the position of a token that
    stands for none). Whether each may still be used is ``check_attachable``'s question, asked
    by intake after the idempotency replay (a retry of a report that used them is fine)."""
    ids, problems = [], []
    for position, token in enumerate(tokens, 1):
        found = session.scalar(select(Attachment.id).where(Attachment.upload_token_hash == _token_hash(token),
                                                           Attachment.uploaded_by.is_(None)))
        if found is None:
            problems.append(t("photo_upload_unusable", n=position))
        else:
            ids.append(found)
    if problems:
        raise validation_error({"photos": problems})
    if len(set(ids)) != len(ids):
        raise validation_error({"photos": [t("photo_upload_twice")]})
    return ids


# --- attaching: the case, the event, the kind and the flags -----------------------------

# The kind of a photo whose uploader did not say, by the verb that first lists it.
VERB_KIND = {"submit": "before", "verify": "before", "report_back": "after", "self_handle": "after",
             "check": "after"}


def photo_flags(a: Attachment, case: Case, reference, now) -> tuple[list[str], float | None]:
    """(flags, distance in metres) of a staff photo attached to ``case`` by an event at ``now``
    documenting ``reference`` (the report's time for a report, else the action's time)."""
    s = current_settings()
    flags, distance = [], None
    if a.captured_at is None:
        flags.append("no_capture_time")
    else:
        if a.captured_at < reference - timedelta(hours=s.photo_max_age_hours):
            flags.append("taken_long_before")
        if a.captured_at > now + CLOCK_SKEW:  # the camera's clock, or the EXIF, says the future
            flags.append("taken_after")
    if a.captured_lon is None or a.captured_lat is None:
        flags.append("no_capture_position")
    elif case.lon is not None and case.lat is not None:
        distance = round(distance_m(a.captured_lon, a.captured_lat, case.lon, case.lat), 1)
        if distance > s.photo_max_distance_m:
            flags.append("far_from_case")
    return [f for f in FLAGS if f in flags], distance


def link(session, case: Case, event: CaseEvent, ids: list[int]) -> None:
    """Attach the photos ``event`` lists to ``case`` (call after ``check_attachable``). The
    first event that lists a photo is the one it documents; listing it again later changes
    nothing. Claimed with a conditional UPDATE, so two requests racing for one photo cannot
    both have it: the second is a 409 ``attachment_taken``."""
    if not ids:
        return
    session.flush()  # the event's id
    note_photos(session, case.id, True)
    reference = case.reported_at if event.verb == "submit" else event.at
    for attachment_id in dict.fromkeys(ids):
        a = session.get(Attachment, attachment_id)
        if a.event_id is not None and a.case_id == case.id:
            continue
        values = {"case_id": case.id, "event_id": event.id, "kind": a.kind or VERB_KIND.get(event.verb, "evidence")}
        if a.uploaded_by is not None:  # staff photos are checked; citizens' carry no capture data
            flags, values["distance_m"] = photo_flags(a, case, reference, event.at)
            values["flags"] = ",".join(flags)
        claimed = session.execute(
            update(Attachment).where(Attachment.id == attachment_id, Attachment.event_id.is_(None),
                                     or_(Attachment.case_id.is_(None), Attachment.case_id == case.id))
            .values(**values).execution_options(synchronize_session="fetch"))
        if claimed.rowcount != 1:
            raise ApiError("attachment_taken", status=409, id=attachment_id)


def flag_list(a: Attachment) -> list[str] | None:
    return None if a.flags is None else [f for f in a.flags.split(",") if f]


def photo_view(a: Attachment, verb: str | None = None) -> dict:
    """A photo as the case detail and the flagged list show it (staff readers only); ``a`` an
    Attachment or a row of ``_PHOTO_COLUMNS``."""
    return {"id": a.id, "kind": a.kind, "source": "staff" if a.uploaded_by is not None else "citizen",
            "event_id": a.event_id, "verb": verb, "url": f"/api/v1/attachments/{a.id}",
            "thumbnail_url": f"/api/v1/attachments/{a.id}/thumbnail", "captured_at": a.captured_at,
            "captured_lon": a.captured_lon, "captured_lat": a.captured_lat, "distance_m": a.distance_m,
            "flags": flag_list(a)}


# What ``photo_view`` reads of a photo: the case's answer selects these columns alone (no
# Attachment objects: a case answer is built on every verb, most of its cost is per row loaded).
_A = Attachment.__table__.c  # a plain Core SELECT (no ORM result set-up for rows that become dicts)
_PHOTO_COLUMNS = (_A.id, _A.kind, _A.uploaded_by, _A.event_id, _A.captured_at, _A.captured_lon, _A.captured_lat,
                  _A.distance_m, _A.flags)


_HAS_PHOTOS = select(Attachment.id).where(Attachment.case_id == Case.id).correlate(Case).exists().label("has_photos")


def photos_exist_column():
    """A column for a case's SELECT: whether any photo belongs to the case (an index probe).
    Read with the case by a verb's request (``note_photos``), it spares the answer its photo
    SELECT when there are none, as for most hotline and web reports."""
    return _HAS_PHOTOS


_NO_PHOTOS = "wangge.cases_without_photos"


def _without_photos(session) -> set:
    """Ids of the cases this transaction has read as having no photo (tied to the transaction:
    another request may attach one after it ends)."""
    session = plain_session(session)
    transaction = session.get_transaction()
    memo = session.info.get(_NO_PHOTOS)
    if memo is None or memo[0] is not transaction:
        memo = session.info[_NO_PHOTOS] = (transaction, set())
    return memo[1]


def note_photos(session, case_id: int, exist: bool) -> None:
    """What the case's SELECT read of its photos (``photos_exist_column``)."""
    known = _without_photos(session)
    if exist:
        known.discard(case_id)
    else:
        known.add(case_id)


def case_photos(session, case: Case) -> list[dict]:
    if case.id in _without_photos(session):
        return []
    events = CaseEvent.__table__
    rows = session.execute(select(*_PHOTO_COLUMNS, events.c.verb)
                           .select_from(Attachment.__table__.outerjoin(events, _A.event_id == events.c.id))
                           .where(_A.case_id == case.id).order_by(_A.id)).all()
    # sent as built (``wangge.answers``): times as the response schema writes them
    return [{**photo_view(row, row.verb), "captured_at": local_iso(row.captured_at)} for row in rows]


def flagged_photos(session, staff: Staff, flags: list[str] | None, limit: int, offset: int) -> list[dict]:
    """Flagged staff photos of the cases ``staff`` may see, newest first; ``flags``: any of them."""
    query = (select(Attachment, CaseEvent.verb, Case.number).join(Case, Attachment.case_id == Case.id)
             .outerjoin(CaseEvent, Attachment.event_id == CaseEvent.id)
             .where(Attachment.flags.is_not(None), Attachment.flags != ""))
    if flags:
        query = query.where(or_(*[Attachment.flags.contains(f, autoescape=True) for f in flags]))
    clause = visible(staff)
    if clause is not None:
        query = query.where(clause)
    rows = session.execute(query.order_by(Attachment.id.desc()).limit(limit).offset(offset)).all()
    return [{**photo_view(a, verb), "case_number": number} for a, verb, number in rows]
