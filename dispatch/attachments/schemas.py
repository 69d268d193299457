"""How a stored photo is answered (the upload itself is multipart ``file``)."""
from marshmallow import Schema, fields, validate

from dispatch.attachments.models import FLAGS, KINDS
from wangge import fields as bounded
from wangge.contract import CommaSeparated, LocalTime, QuerySchema

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
    kind = fields.String(allow_none=True, metadata={"enum": list(KINDS), "description": "as uploaded; when null, "
                                                     "the verb that attaches it decides (docs/photos.md)"})


class CasePhotoView(Schema):
    """A photo of a case as staff see it in the case detail: what it shows, what it documents
    and what its capture data says (flags computed when it was attached)."""
    id = fields.Integer(required=True)
    kind = fields.String(allow_none=True, metadata={"enum": list(KINDS),
                                                     "description": "null only for photos attached before kinds"})
    source = fields.String(required=True, metadata={"enum": ["staff", "citizen"]})
    event_id = fields.Integer(allow_none=True, metadata={"description": "the report or action it documents"})
    verb = fields.String(allow_none=True, metadata={"description": "that event's verb (submit for the report)"})
    url = fields.String(required=True)
    thumbnail_url = fields.String(required=True)
    captured_at = LocalTime(metadata={"description": "from the photo's EXIF (staff photos only)"})
    captured_lon = fields.Float(allow_none=True, metadata={"description": "WGS-84, from the photo's EXIF"})
    captured_lat = fields.Float(allow_none=True, metadata={"description": "WGS-84, from the photo's EXIF"})
    distance_m = fields.Float(allow_none=True, metadata={"description": "capture point to the case location"})
    flags = fields.List(fields.String(metadata={"enum": list(FLAGS)}), allow_none=True, metadata={
        "description": "[] checked and fine; null not checked (citizens' photos, photos attached before checks)"})


class FlaggedPhotoView(CasePhotoView):
    case_number = fields.String(required=True)


class FlaggedPhotoListView(Schema):
    photos = fields.List(fields.Nested(FlaggedPhotoView), required=True)


class FlaggedPhotoQuery(QuerySchema):
    flag = CommaSeparated(FLAGS, metadata={"description": "photos with any of these flags (default: any flag)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = bounded.BoundedInt(load_default=0)


class CitizenUploadView(Schema):
    """A citizen's photo upload: list ``upload_token`` in ``photos`` of one report."""
    upload_token = fields.String(required=True, metadata={"description": "one-time; send it in the report's photos"})
    expires_at = LocalTime(required=True)
    content_type = fields.String(required=True, metadata={"enum": list(PHOTO_TYPES)})
    size = fields.Integer(required=True)


def upload_body(*, with_kind: bool) -> dict:
    """The OpenAPI ``requestBody`` of a photo upload (the views read ``request.files``
    themselves, so flask-smorest cannot describe it): multipart with a required ``file``."""
    properties = {"file": {"type": "string", "format": "binary",
                           "description": "The photo: JPEG, PNG or WebP, at most 10 MB."}}
    if with_kind:
        properties["kind"] = {"type": "string", "enum": list(KINDS),
                              "description": "What the photo shows; without it the report or action decides."}
    return {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["file"], "properties": properties}}}}
