from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from dispatch.adapters.hotline import service as hotline
from dispatch.intake import rules
from grid import roles as R
from wangge.auth import requires
from wangge.errors import ApiError, validation_error
from wangge.extensions import db

blp = Blueprint("hotline", __name__, url_prefix="/api/v1/hotline", description="12345 热线 Hotline orders")


class OrderCaseSchema(Schema):
    line = fields.Integer(required=True, metadata={"description": "Line (CSV) or row (XLSX) of the order"})
    order_no = fields.String(required=True)
    number = fields.String(required=True, metadata={"description": "The case number"})


class RowProblemSchema(Schema):
    """A rule of a valid report (dispatch.intake.rules) or a cell that cannot be read, by column."""
    line = fields.Integer(required=True)
    column = fields.String(required=True, metadata={"description": "Canonical column name"})
    header = fields.String(required=True, metadata={"description": "The column's header as written in the file"})
    value = fields.String(required=True)
    message = fields.String(required=True, metadata={"description": "In the user's language"})


class HotlineImportResultSchema(Schema):
    created = fields.Integer(required=True)
    already_imported = fields.Integer(required=True)
    skipped = fields.Integer(required=True, metadata={"description": "Rows skipped (skip_invalid=true)"})
    cases = fields.List(fields.Nested(OrderCaseSchema), required=True, metadata={"description": "Created"})
    existing_cases = fields.List(fields.Nested(OrderCaseSchema), required=True,
                                 metadata={"description": "Imported before"})
    skipped_rows = fields.List(fields.Nested(RowProblemSchema), required=True)
    ignored_columns = fields.List(fields.String(), required=True)


class HotlineImportQuery(Schema):
    crs = fields.String(validate=validate.OneOf(rules.CRS_CHOICES),
                        metadata={"description": "system of lon/lat for rows without a crs value"})
    skip_invalid = fields.Boolean(load_default=False)


@blp.route("/import")
class HotlineImport(MethodView):
    @requires(R.INTAKE_CLERK, R.DISPATCHER, R.ADMIN)
    @blp.arguments(HotlineImportQuery, location="query")
    @blp.response(200, HotlineImportResultSchema)
    def post(self, args):
        """Import 12345 orders: multipart ``file`` (CSV in UTF-8 or GBK, or XLSX). Every row is
        checked first; any bad row writes nothing (422 ``invalid_rows``, ``details`` lists
        line/column/value/message) unless ``skip_invalid=true``. Re-importing creates nothing
        new: answers ``{created, already_imported, skipped, cases, ...}``. Columns: docs/hotline.md."""
        upload = request.files.get("file")
        if upload is None:
            raise validation_error({"file": ["required (multipart/form-data field 'file')"]})
        data = upload.read(hotline.MAX_FILE_BYTES + 1)
        if len(data) > hotline.MAX_FILE_BYTES:
            raise ApiError("file_too_large", status=413,
                           message=f"file larger than {hotline.MAX_FILE_BYTES // (1024 * 1024)} MB")
        try:
            table = hotline.read_bytes(data, upload.filename or "")
        except hotline.HotlineFileError as exc:
            raise ApiError("invalid_file", status=400, detail=str(exc)) from None
        result = hotline.import_table(db.session, table, crs=args.get("crs"), skip_invalid=args["skip_invalid"])
        return result.to_dict()
