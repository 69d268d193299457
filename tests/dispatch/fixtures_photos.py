"""Photos with known capture data, for the photo kind and flag tests (issue 8, "Photos that
prove themselves"). EXIF is written with Pillow (no piexif), as in test_photo_exif.py."""
from __future__ import annotations

import io
import struct
from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from tests.dispatch.conftest import POINT_G1
from tests.dispatch.test_photo_exif import EXIF_IFD, GPS_IFD

SHANGHAI = ZoneInfo("Asia/Shanghai")
M_PER_DEG_LAT = 111_320.0


@pytest.fixture(name="media")
def media_fixture(app, tmp_path, monkeypatch):
    """Photos go to a directory of this test's own; jobs inline (import it as ``media_fixture``)."""
    settings = app.config["WANGGE"]
    monkeypatch.setattr(settings, "media_dir", str(tmp_path / "media"))
    monkeypatch.setattr(settings, "jobs_inline", True)
    return tmp_path / "media"


def _dms(value: float) -> tuple:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600 * 1000)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds, 1000)


def latitude_bytes(lat: float) -> set[bytes]:
    """The latitude as ``photo`` writes it into the file (three rationals), in either byte order."""
    reduced = [Fraction(int(r.numerator), int(r.denominator)) for r in _dms(lat)]  # Pillow writes them reduced
    parts = [(f.numerator, f.denominator) for f in reduced]
    return {b"".join(struct.pack(f"{e}II", *p) for p in parts) for e in "<>"}


def north_of(point=POINT_G1, metres: float = 0.0) -> tuple[float, float]:
    return point[0], point[1] + metres / M_PER_DEG_LAT


def photo(taken: datetime | None = None, at: tuple[float, float] | None = None, color=(30, 160, 60)) -> bytes:
    """A JPEG whose EXIF says it was taken at ``taken`` (written in Shanghai time with its
    offset) and at ``at`` (lon, lat, WGS-84); either may be None (then the tag is absent)."""
    exif = Image.Exif()
    exif[0x010F] = "Huawei"
    if taken is not None:
        sub = exif.get_ifd(EXIF_IFD)
        sub[0x9003] = taken.astimezone(SHANGHAI).strftime("%Y:%m:%d %H:%M:%S")
        sub[0x9011] = "+08:00"
    if at is not None:
        gps = exif.get_ifd(GPS_IFD)
        gps[1], gps[2] = "N" if at[1] >= 0 else "S", _dms(at[1])
        gps[3], gps[4] = "E" if at[0] >= 0 else "W", _dms(at[0])
    buf = io.BytesIO()
    img = Image.new("RGB", (240, 160), color)
    img.paste((0, 0, 200), (0, 0, 60, 40))
    img.save(buf, "JPEG", quality=85, exif=exif.tobytes())
    return buf.getvalue()


def plain_png(color=(10, 20, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, "PNG")
    return buf.getvalue()


def hours_ago(hours: float) -> datetime:
    return datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=hours)


def upload(client, headers, data, filename="photo.jpg", **form):
    return client.post("/api/v1/attachments", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), filename), **form})


def public_upload(client, data, filename="photo.jpg"):
    return client.post("/api/v1/public/photos", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), filename)})


def exif_of_file(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as img:
        exif = img.getexif()
        return {"gps": dict(exif.get_ifd(GPS_IFD)), "exif": dict(exif.get_ifd(EXIF_IFD)), "ifd0": dict(exif)}
