"""Photos lose their location and device data before they are stored (issue 7, "Photos").

Every photo is made here with Pillow (or by hand, for broken EXIF) with a known capture time,
a known GPS point and a known camera, uploaded over HTTP, and then read back: from the disk,
as served, and as the attachment's JSON."""
from __future__ import annotations

import hashlib
import io
import struct
import zlib
from datetime import UTC, datetime

import pytest
from PIL import Image, PngImagePlugin
from PIL.TiffImagePlugin import IFDRational

from dispatch.attachments.models import Attachment
from tests.dispatch.test_attachments import upload

GPS_IFD, EXIF_IFD = 0x8825, 0x8769
MAKE, MODEL, SOFTWARE, ARTIST, ORIENTATION = 0x010F, 0x0110, 0x0131, 0x013B, 0x0112
# 31°12'34.56" N, 121°25'12.5" E (Shanghai)
LAT = (IFDRational(31, 1), IFDRational(12, 1), IFDRational(864, 25))
LON = (IFDRational(121, 1), IFDRational(25, 1), IFDRational(25, 2))
POINT = (121 + 25 / 60 + 12.5 / 3600, 31 + 12 / 60 + 34.56 / 3600)
SECRETS = (b"Canon", b"EOS R5 Secret", b"PhotoSoft", b"Zhang San", b"BODYSN4711", b"OwnerLi",
           b"MAKERNOTE", b"xmpmeta", b"Photoshop 3.0", b"Shanghai-Xuhui", b"ns.adobe.com")


@pytest.fixture
def media(app, tmp_path, monkeypatch):
    settings = app.config["WANGGE"]
    monkeypatch.setattr(settings, "media_dir", str(tmp_path / "media"))
    monkeypatch.setattr(settings, "jobs_inline", True)
    return tmp_path / "media"


def camera_exif(when="2024:05:01 09:30:15", offset="+02:00", orientation=6, gps=True) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[SOFTWARE], exif[ARTIST] = "Canon", "EOS R5 Secret", "PhotoSoft 9", "Zhang San"
    if orientation:
        exif[ORIENTATION] = orientation
    sub = exif.get_ifd(EXIF_IFD)
    sub[0x9003] = when
    if offset:
        sub[0x9011] = offset
    sub[0xA431], sub[0xA430], sub[0x927C] = "BODYSN4711", "OwnerLi", b"MAKERNOTE-SECRET"
    if gps:
        g = exif.get_ifd(GPS_IFD)
        g[1], g[2], g[3], g[4] = "N", LAT, "E", LON
    return exif


def picture(size=(400, 200)) -> Image.Image:
    img = Image.new("RGB", size, (200, 40, 40))
    img.paste((0, 0, 255), (0, 0, size[0] // 4, size[1] // 4))  # a corner to tell which way is up
    return img


def jpeg(exif: Image.Exif | bytes | None = None, **save) -> bytes:
    buf = io.BytesIO()
    blob = exif.tobytes() if isinstance(exif, Image.Exif) else exif
    picture().save(buf, "JPEG", quality=90, **({"exif": blob} if blob else {}), **save)
    return buf.getvalue()


def with_segment(data: bytes, marker: int, payload: bytes) -> bytes:
    """A JPEG with one more segment right after SOI."""
    return data[:2] + bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def png_chunks(data: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kinds.append(data[pos + 4:pos + 8])
        pos += 12 + length
    return kinds


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def gps_rational_bytes() -> set[bytes]:
    """The latitude as it is written in the file, in either byte order."""
    nums = [(31, 1), (12, 1), (864, 25)]
    return {b"".join(struct.pack(f"{e}II", *n) for n in nums) for e in "<>"}


def assert_clean(data: bytes, orientation: int | None = 6) -> None:
    with Image.open(io.BytesIO(data)) as img:
        exif = img.getexif()
        assert dict(exif.get_ifd(GPS_IFD)) == {} and dict(exif.get_ifd(EXIF_IFD)) == {}
        assert MAKE not in exif and MODEL not in exif
        assert dict(exif) == ({ORIENTATION: orientation} if orientation else {})
        assert not {k for k in img.info if k.lower() in ("xmp", "comment", "photoshop", "xml:com.adobe.xmp", "author", "description")}
    for secret in SECRETS + tuple(gps_rational_bytes()):
        assert secret not in data, secret


def stored_and_served(client, city, media, db_session, body, who="worker1") -> bytes:
    row = db_session.get(Attachment, body["id"])
    on_disk = (media / row.path).read_bytes()
    served = client.get(body["url"], headers=city.h(who))
    assert served.status_code == 200 and served.data == on_disk
    assert hashlib.sha256(on_disk).hexdigest() == body["sha256"] == row.sha256 and body["size"] == len(on_disk)
    return on_disk


# --- JPEG -------------------------------------------------------------------------------------

def test_jpeg_is_stored_without_location_or_camera_and_keeps_capture_fields(client, city, media, db_session):
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://ns.adobe.com/xap/1.0/">'
           b"<exif:GPSLatitude>31,12.576N</exif:GPSLatitude><tiff:Make>Canon</tiff:Make></rdf:RDF></x:xmpmeta>")
    original = jpeg(camera_exif(), xmp=xmp, comment=b"Canon EOS R5 Secret")
    original = with_segment(original, 0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x10Shanghai-Xuhui\x00\x00")
    assert b"Canon" in original and gps_rational_bytes() & {original[i:i + 24] for i in range(len(original) - 23)}

    r = upload(client, city.h("worker1"), original, filename="IMG_0001.jpg")
    assert r.status_code == 201, r.json
    body = r.json
    assert body["content_type"] == "image/jpeg"
    assert body["captured_at"] == "2024-05-01T15:30:15+08:00"  # 09:30:15 at +02:00, shown in Shanghai
    assert body["captured_lon"] == pytest.approx(POINT[0], abs=1e-6)
    assert body["captured_lat"] == pytest.approx(POINT[1], abs=1e-6)
    row = db_session.get(Attachment, body["id"])
    assert row.captured_at == datetime(2024, 5, 1, 7, 30, 15, tzinfo=UTC)

    stored = stored_and_served(client, city, media, db_session, body)
    assert_clean(stored, orientation=6)
    with Image.open(io.BytesIO(stored)) as kept, Image.open(io.BytesIO(original)) as was:
        assert kept.tobytes() == was.tobytes()  # the pixels were not re-encoded

    thumb = client.get(body["thumbnail_url"], headers=city.h("worker1"))
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.data)) as img:
        assert img.size == (160, 320)  # orientation 6: the 400x200 photo is shown upright, 200x400
        assert dict(img.getexif().get_ifd(GPS_IFD)) == {}


def test_capture_time_without_offset_is_read_in_the_configured_zone(client, city, media, db_session, app,
                                                                    monkeypatch):
    r = upload(client, city.h("worker1"), jpeg(camera_exif(offset=None, orientation=None)))
    assert r.status_code == 201
    assert r.json["captured_at"] == "2024-05-01T09:30:15+08:00"  # Asia/Shanghai, the default zone
    assert db_session.get(Attachment, r.json["id"]).captured_at == datetime(2024, 5, 1, 1, 30, 15, tzinfo=UTC)
    assert_clean(stored_and_served(client, city, media, db_session, r.json), orientation=None)

    monkeypatch.setattr(app.config["WANGGE"], "timezone", "Europe/Berlin")
    r = upload(client, city.h("worker2"), jpeg(camera_exif(when="2024:01:10 09:30:15", offset=None)))
    assert db_session.get(Attachment, r.json["id"]).captured_at == datetime(2024, 1, 10, 8, 30, 15, tzinfo=UTC)


def test_a_retry_of_the_same_original_gets_the_same_attachment(client, city, media, db_session):
    original = jpeg(camera_exif())
    first = upload(client, city.h("worker1"), original)
    again = upload(client, city.h("worker1"), original)
    assert (first.status_code, again.status_code) == (201, 200) and again.json["id"] == first.json["id"]
    # the same pixels taken elsewhere are another photo (but the same stored file)
    elsewhere = camera_exif()
    elsewhere.get_ifd(GPS_IFD)[2] = (IFDRational(30, 1), IFDRational(0, 1), IFDRational(0, 1))
    other = upload(client, city.h("worker1"), jpeg(elsewhere))
    assert other.status_code == 201 and other.json["id"] != first.json["id"]
    assert other.json["sha256"] == first.json["sha256"] and other.json["captured_lat"] == pytest.approx(30.0)
    sha = first.json["sha256"]
    assert sorted(p.name for p in media.rglob("*") if p.is_file()) == [sha, f"{sha}.thumb.jpg"]


def test_photo_without_metadata_is_stored_as_sent(client, city, media, db_session):
    original = jpeg()
    r = upload(client, city.h("worker1"), original)
    assert r.status_code == 201
    assert (r.json["captured_at"], r.json["captured_lon"], r.json["captured_lat"]) == (None, None, None)
    assert stored_and_served(client, city, media, db_session, r.json) == original


# --- PNG and WebP -------------------------------------------------------------------------------

def test_png_loses_exif_and_text_chunks(client, city, media, db_session):
    info = PngImagePlugin.PngInfo()
    info.add_text("XML:com.adobe.xmp", "<x:xmpmeta><exif:GPSLatitude>31,12.576N</exif:GPSLatitude></x:xmpmeta>")
    info.add_text("Author", "Zhang San", zip=True)
    info.add_itxt("Description", "Shanghai-Xuhui, Canon EOS R5 Secret", lang="en")
    buf = io.BytesIO()
    picture().save(buf, "PNG", exif=camera_exif(offset="+08:00").tobytes(), pnginfo=info)
    original = buf.getvalue()
    assert {b"eXIf", b"tEXt", b"zTXt", b"iTXt"} <= set(png_chunks(original))

    r = upload(client, city.h("worker1"), original, filename="shot.png")
    assert r.status_code == 201, r.json
    assert r.json["captured_at"] == "2024-05-01T09:30:15+08:00"
    assert (r.json["captured_lon"], r.json["captured_lat"]) == pytest.approx(POINT, abs=1e-6)
    stored = stored_and_served(client, city, media, db_session, r.json)
    assert_clean(stored, orientation=6)
    assert not {b"tEXt", b"zTXt", b"iTXt"} & set(png_chunks(stored))
    with Image.open(io.BytesIO(stored)) as kept, Image.open(io.BytesIO(original)) as was:
        assert kept.tobytes() == was.tobytes()
    thumb = client.get(r.json["thumbnail_url"], headers=city.h("worker1"))
    with Image.open(io.BytesIO(thumb.data)) as img:
        assert img.size == (160, 320)


def test_webp_loses_exif_and_xmp(client, city, media, db_session):
    buf = io.BytesIO()
    picture().save(buf, "WEBP", lossless=True, exif=camera_exif().tobytes(),
                   xmp=b"<x:xmpmeta><exif:GPSLatitude>31,12.576N</exif:GPSLatitude></x:xmpmeta>")
    original = buf.getvalue()
    assert b"EXIF" in original and b"XMP " in original

    r = upload(client, city.h("worker1"), original, filename="shot.webp")
    assert r.status_code == 201, r.json
    assert r.json["content_type"] == "image/webp" and r.json["captured_at"] == "2024-05-01T15:30:15+08:00"
    assert (r.json["captured_lon"], r.json["captured_lat"]) == pytest.approx(POINT, abs=1e-6)
    stored = stored_and_served(client, city, media, db_session, r.json)
    assert_clean(stored, orientation=6)
    assert b"XMP " not in stored
    with Image.open(io.BytesIO(stored)) as kept, Image.open(io.BytesIO(original)) as was:
        assert kept.tobytes() == was.tobytes()
    assert client.get(r.json["thumbnail_url"], headers=city.h("worker1")).status_code == 200


# --- EXIF that cannot be trusted ------------------------------------------------------------------

def _entry(tag: int, kind: int, count: int, payload: bytes) -> tuple:
    return tag, kind, count, payload


def ascii_(tag: int, text: bytes) -> tuple:
    return _entry(tag, 2, len(text) + 1, text + b"\x00")


def rationals(tag: int, *pairs: tuple[int, int]) -> tuple:
    return _entry(tag, 5, len(pairs), b"".join(struct.pack("<II", *p) for p in pairs))


def doubles(tag: int, *values: float) -> tuple:
    return _entry(tag, 12, len(values), b"".join(struct.pack("<d", v) for v in values))


def tiff(ifd0=(), exif_ifd=(), gps=()) -> bytes:
    """An EXIF block written by hand, so that it can say anything."""
    tables = [list(ifd0)]
    for tag, table in ((EXIF_IFD, exif_ifd), (GPS_IFD, gps)):
        if table:
            tables[0].append((tag, 4, 1, len(tables)))  # patched below to the sub-IFD's offset
            tables.append(list(table))
    offsets, pos = [], 8
    for table in tables:
        offsets.append(pos)
        pos += 2 + 12 * len(table) + 4
    heads, data = [], b""
    for table in tables:
        head = struct.pack("<H", len(table))
        for tag, kind, count, payload in sorted(table):
            if isinstance(payload, int):
                payload = struct.pack("<I", offsets[payload])
            if len(payload) <= 4:
                head += struct.pack("<HHI", tag, kind, count) + payload.ljust(4, b"\x00")
            else:
                head += struct.pack("<HHII", tag, kind, count, pos + len(data))
                data += payload + b"\x00" * (len(payload) & 1)
        heads.append(head + struct.pack("<I", 0))
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + b"".join(heads) + data


CAMERA = (ascii_(MAKE, b"Canon"), ascii_(MODEL, b"EOS R5 Secret"))
WHEN = (ascii_(0x9003, b"2024:05:01 09:30:15"),)
GOOD_LAT = (ascii_(1, b"N"), rationals(2, (31, 1), (12, 1), (864, 25)))
GOOD_LON = (ascii_(3, b"E"), rationals(4, (121, 1), (25, 1), (25, 2)))

BROKEN = {
    "zero denominators": (tiff(CAMERA, WHEN, (ascii_(1, b"N"), rationals(2, (31, 0), (12, 0), (864, 0)))
                               + GOOD_LON), "time"),
    "nan": (tiff(CAMERA, WHEN, (ascii_(1, b"N"), doubles(2, float("nan"), 0, 0)) + GOOD_LON), "time"),
    "latitude 999": (tiff(CAMERA, WHEN, (ascii_(1, b"N"), rationals(2, (999, 1), (0, 1), (0, 1))) + GOOD_LON),
                     "time"),
    "minutes 75": (tiff(CAMERA, WHEN, (ascii_(1, b"N"), rationals(2, (31, 1), (75, 1), (0, 1))) + GOOD_LON),
                   "time"),
    "strings for numbers": (tiff(CAMERA, WHEN, (ascii_(1, b"N"), ascii_(2, b"thirty-one")) + GOOD_LON), "time"),
    "numbers for refs": (tiff(CAMERA, WHEN, (_entry(1, 3, 1, b"\x07\x00"),) + GOOD_LAT[1:] + GOOD_LON), "time"),
    "no refs": (tiff(CAMERA, WHEN, GOOD_LAT[1:] + GOOD_LON[1:]), "time"),
    "void fix": (tiff(CAMERA, WHEN, (ascii_(9, b"V"),) + GOOD_LAT + GOOD_LON), "time"),
    "bad time": (tiff(CAMERA, (ascii_(0x9003, b"0000:00:00 00:00:00"), ascii_(0x9011, b"+99:99")),
                      GOOD_LAT + GOOD_LON), "place"),
    "blank time": (tiff(CAMERA, (ascii_(0x9003, b"    :  :     :  :  "),), GOOD_LAT + GOOD_LON), "place"),
    "time as a number": (tiff(CAMERA, (_entry(0x9003, 4, 1, b"\x01\x02\x03\x04"),), GOOD_LAT + GOOD_LON), "place"),
    "orientation 99": (tiff(CAMERA + (_entry(ORIENTATION, 3, 1, b"\x63\x00"),), WHEN, GOOD_LAT + GOOD_LON),
                       "both"),
    "sub-IFD beyond the end": (b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x25\x88\x04\x00\x01\x00\x00\x00"
                               b"\xff\xff\xff\x7f\x00\x00\x00\x00Canon", "none"),
    "a loop of IFDs": (b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x69\x87\x04\x00\x01\x00\x00\x00"
                       b"\x08\x00\x00\x00\x08\x00\x00\x00Canon", "none"),
    "not TIFF at all": (b"Exif\x00\x00" + b"Canon garbage \xff\xd9" * 50, "none"),
    "huge": (tiff(CAMERA + (_entry(0x010E, 7, 60_000, b"Canon" * 12_000),), WHEN, GOOD_LAT + GOOD_LON), "both"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_exif_is_ignored_never_a_500(client, city, media, db_session, name):
    blob, readable = BROKEN[name]
    original = with_segment(jpeg(), 0xE1, blob)
    r = upload(client, city.h("worker1"), original)
    assert r.status_code == 201, r.json
    body = r.json
    has_time = body["captured_at"] is not None
    has_place = (body["captured_lon"], body["captured_lat"]) != (None, None)
    assert (has_time, has_place) == (readable in ("time", "both"), readable in ("place", "both"))
    if has_time:
        assert body["captured_at"] == "2024-05-01T09:30:15+08:00"
    if has_place:
        assert (body["captured_lon"], body["captured_lat"]) == pytest.approx(POINT, abs=1e-6)
    assert_clean(stored_and_served(client, city, media, db_session, body), orientation=None)
    assert client.get(body["thumbnail_url"], headers=city.h("worker1")).status_code == 200


def test_a_huge_png_exif_chunk_is_dropped_unread(client, city, media, db_session):
    buf = io.BytesIO()
    picture().save(buf, "PNG")
    plain = buf.getvalue()
    blob = tiff(CAMERA + (_entry(0x010E, 7, 3_000_000, b"Canon" * 600_000),), WHEN, GOOD_LAT + GOOD_LON)
    original = plain[:33] + png_chunk(b"eXIf", blob[6:]) + plain[33:]  # after IHDR
    r = upload(client, city.h("worker1"), original)
    assert r.status_code == 201, r.json
    assert (r.json["captured_at"], r.json["captured_lon"]) == (None, None)
    assert stored_and_served(client, city, media, db_session, r.json) == plain


def test_a_damaged_container_is_refused_and_nothing_is_stored(client, city, media):
    original = jpeg(camera_exif())
    cut = original[:2] + b"\xff\xe1\xff\xf0" + original[6:40]  # an APP1 segment longer than the file
    r = upload(client, city.h("worker1"), cut)
    assert r.status_code == 422 and r.json["code"] == "not_an_image" and "file" in r.json["message"]
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_every_upload_path_strips_even_without_an_uploader(app, media, db_session):
    """Citizens cannot upload yet; when they can, ``store`` without a staff member strips the
    file the same way and keeps no capture fields (those are for staff photos)."""
    from dispatch.attachments import service as attachments

    with app.test_request_context():
        attachment, created = attachments.store(db_session, jpeg(camera_exif()), "citizen.jpg", None)
    assert created and attachment.uploaded_by is None
    assert (attachment.captured_at, attachment.captured_lon, attachment.captured_lat) == (None, None, None)
    assert_clean((media / attachment.path).read_bytes(), orientation=6)


def test_progressive_jpeg_with_restarts_colour_profile_and_trailer(client, city, media, db_session):
    """Several scans with tables between them, restart markers inside the scans, an ICC profile
    (kept: colours) and a second image appended after EOI as phones do (MPF; dropped, it has
    its own EXIF)."""
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = jpeg(camera_exif(), progressive=True, restart_marker_blocks=1, icc_profile=icc)
    original += jpeg(camera_exif())  # the "secondary image", with the camera and GPS again
    r = upload(client, city.h("worker1"), original)
    assert r.status_code == 201, r.json
    stored = stored_and_served(client, city, media, db_session, r.json)
    assert_clean(stored, orientation=6)
    assert stored.count(b"\xff\xd8") == 1 and stored.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(stored)) as kept, Image.open(io.BytesIO(original)) as was:
        assert kept.info.get("progressive") and kept.info["icc_profile"] == icc
        assert kept.tobytes() == was.tobytes()
