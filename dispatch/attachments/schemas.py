"""How a stored photo is answered (the upload itself is multipart ``file``)."""
from marshmallow import Schema, fields

from wangge.contract import LocalTime

# What the photo and thumbnail downloads may be (uploads are checked by decoding them).
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
THUMBNAIL_TYPES = ("image/jpeg", "image/png")


class AttachmentView(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    case_id = fields.Integer(allow_none=True)
    url = fields.String(metadata={"description": "the photo"})
    thumbnail_url = fields.String()
    thumbnail_ready = fields.Boolean()
    captured_at = LocalTime(metadata={"description": "from the photo's EXIF, null when it has none"})
    captured_lon = fields.Float(allow_none=True)
    captured_lat = fields.Float(allow_none=True)
