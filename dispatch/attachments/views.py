from flask import current_app, jsonify, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from dispatch.attachments import service
from dispatch.attachments.schemas import (
    PHOTO_TYPES,
    THUMBNAIL_TYPES,
    AttachmentView,
    FlaggedPhotoListView,
    FlaggedPhotoQuery,
    upload_body,
)
from grid import roles as R
from wangge.auth import current_staff, requires
from wangge.contract import binary_download
from wangge.errors import ApiError, NotFound, validation_error
from wangge.extensions import db
from wangge.present import local_iso

blp = Blueprint("attachments", __name__, url_prefix="/api/v1/attachments",
                description="附件 Photos: upload once, reference by id from case actions")


def attachment_view(a) -> dict:
    return {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
            "sha256": a.sha256, "case_id": a.case_id, "url": f"/api/v1/attachments/{a.id}",
            "thumbnail_url": f"/api/v1/attachments/{a.id}/thumbnail",
            "thumbnail_ready": a.thumbnail_path is not None or service.existing_thumbnail(a.sha256) is not None,
            "captured_at": local_iso(a.captured_at), "captured_lon": a.captured_lon, "captured_lat": a.captured_lat,
            "kind": a.kind}


def _serve(path, mimetype: str, download_name: str, etag: str):
    if not path.exists():
        current_app.logger.warning("attachment file missing on disk: %s", path)
        raise NotFound("attachment", download_name)
    response = send_file(path, mimetype=mimetype, download_name=download_name, as_attachment=False,
                         conditional=True, etag=etag, max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.route("")
class Attachments(MethodView):
    @requires()
    @blp.doc(requestBody=upload_body(with_kind=True))
    @blp.response(201, AttachmentView)
    @blp.alt_response(200, schema=AttachmentView, success=True,
                      description="The same uploader sent the same file again before attaching it")
    def post(self):
        """Upload a photo: multipart ``file``, JPEG/PNG/WebP only (checked by decoding it), at
        most 10 MB (413 above; 422 ``not_an_image`` / ``unsupported_image``). The stored copy
        has no EXIF/XMP/IPTC location or device data (only the Orientation stays); the capture
        time and GPS position are answered as ``captured_at`` / ``captured_lon`` /
        ``captured_lat`` (null when the photo has none). Answers its ``id`` (201; 200 when the
        same uploader sends the same file again before attaching it). Reference the id from
        case actions: ``"attachments": [id]``. The thumbnail is made in the background.
        Optional form field ``kind``: ``before``, ``after`` or ``evidence`` (422 otherwise);
        without it the report or action that attaches the photo decides (docs/photos.md)."""
        upload = request.files.get("file")
        if upload is None:
            raise validation_error({"file": ["required (multipart/form-data field 'file')"]})
        kind = service.check_kind(request.form.get("kind"))
        data = service.read_limited(upload.stream)
        attachment, created = service.store(db.session, data, upload.filename, current_staff(), kind=kind)
        return attachment_view(attachment), 201 if created else 200


@blp.route("/flagged")
class FlaggedPhotos(MethodView):
    @requires(*R.DISPATCH_CENTER, R.LEADER)
    @blp.arguments(FlaggedPhotoQuery, location="query")
    @blp.response(200, FlaggedPhotoListView)
    def get(self, args):
        """Staff photos flagged when they were attached (taken long before the report or
        action, taken "after" it, far from the case, or without capture time or position),
        newest first, with their case number; ``?flag=`` any of these flags only."""
        return {"photos": service.flagged_photos(db.session, current_staff(), args.get("flag"),
                                                 args["limit"], args["offset"])}


@blp.route("/<int:attachment_id>")
class AttachmentFile(MethodView):
    @requires()
    @binary_download(blp, PHOTO_TYPES)
    def get(self, attachment_id):
        """The photo, for staff who may see its case (or its uploader before it is attached)."""
        a = service.get_readable(db.session, current_staff(), attachment_id)
        return _serve(service.absolute(a.path), a.content_type, a.filename, a.sha256)


@blp.route("/<int:attachment_id>/thumbnail")
class AttachmentThumbnail(MethodView):
    @requires()
    @binary_download(blp, THUMBNAIL_TYPES)
    def get(self, attachment_id):
        """The thumbnail (at most 320 px). 404 ``thumbnail_pending`` with ``Retry-After`` while
        the background job has not made it yet (asking again re-queues it)."""
        a = service.get_readable(db.session, current_staff(), attachment_id)
        relative = a.thumbnail_path or service.existing_thumbnail(a.sha256)
        if relative is None:
            service.request_thumbnail(a.sha256)  # inline: made now; rq: queued again (same job id)
            relative = service.existing_thumbnail(a.sha256)
        if relative is None:
            err = ApiError("thumbnail_pending", status=404)
            response = jsonify(err.to_dict())
            response.status_code = 404
            response.headers["Retry-After"] = "5"
            return response
        mimetype = "image/png" if relative.endswith(".png") else "image/jpeg"
        stem = a.filename.rsplit(".", 1)[0]
        return _serve(service.absolute(relative), mimetype, f"{stem}.thumb.{relative.rsplit('.', 1)[1]}",
                      f"{a.sha256}-thumb")
