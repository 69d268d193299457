"""What the phone sends when it reports or pushes an offline batch, and what it is answered.

A report is the desk's report (``dispatch.intake.schemas.CaseCreateSchema``, judged by
``dispatch.intake.rules``) with the phone's ``client_id``; an action is the case API's
action body (``dispatch.workflow.schemas.ActionSchema``) with the case number, the verb and
the case version the phone saw. The batch's items are parsed one by one by the service, so a
malformed item is refused on its own and never takes the others with it."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from dispatch.cases.lifecycle import STATES
from dispatch.intake import rules
from dispatch.intake.schemas import CaseCreateSchema
from dispatch.workflow.schemas import ActionSchema
from mobile_api.push.models import KINDS
from wangge import fields as bounded
from wangge.contract import LocalTime, QuerySchema

MAX_ITEMS = 100
OUTCOMES = ("created", "done", "already_done", "conflict", "refused", "idempotency_key_reused")

_CLIENT_ID = {"minLength": rules.KEY_MIN, "maxLength": rules.KEY_MAX,
              "description": "The phone's own id of this item (8 to 128 printable characters), unique per "
                             "sender: sent again with the same body it answers what was done the first time."}


def client_id_field(**kwargs) -> fields.String:
    # the length and printability rule is intake's (``rules.check_client_key``), asked by the service
    metadata = {**_CLIENT_ID, **kwargs.pop("metadata", {})}
    return fields.String(metadata=metadata, **kwargs)


class PushReportSchema(CaseCreateSchema):
    """A report as the phone sends it (channel and key come from the sender and ``client_id``)."""

    class Meta:
        exclude = ("channel", "idempotency_key")


class PhoneReportSchema(PushReportSchema):
    client_id = client_id_field(metadata={"description": "Or the Idempotency-Key header (which wins)."})


class PushActionSchema(ActionSchema):
    """A verb on a case, as ``POST /api/v1/cases/<number>/actions/<verb>`` takes it."""

    class Meta:
        exclude = ("expected_version",)

    number = fields.String(required=True, validate=validate.Length(min=1, max=32),
                           metadata={"description": "The case number"})
    verb = fields.String(required=True, validate=validate.Length(min=1, max=32),
                         metadata={"description": "accept, verify, sign, check, report_back, ... (docs/lifecycle.md)"})
    version_seen = bounded.BoundedInt(required=True, metadata={
        "description": "The case version the phone acted on; when the case moved on since and the verb no "
                       "longer fits, the item is a conflict kept for the dispatch center."})


class PushItemSchema(Schema):
    client_id = client_id_field(required=True)
    type = fields.String(required=True, validate=validate.OneOf(KINDS))
    report = fields.Nested(PushReportSchema, metadata={"description": "with type report"})
    action = fields.Nested(PushActionSchema, metadata={"description": "with type action"})

    @validates_schema
    def _one_body(self, data, **kwargs):
        kind = data.get("type")
        if kind is None:
            return
        other = "action" if kind == "report" else "report"
        errors = {}
        if kind not in data:
            errors[kind] = ["Missing data for required field."]
        if other in data:
            errors[other] = [f"only with type {other}"]
        if errors:
            raise ValidationError(errors)


class RawItems(fields.List):
    """A list of items kept as sent (each is parsed and judged on its own by the service),
    documented as a list of :class:`PushItemSchema` *or anything else*: a malformed item (not
    an object, an unknown field, a missing ``type``) is refused alone, with its own outcome,
    so the batch is still a 200 and the document must say the server takes it
    (:func:`lenient_items`)."""
    lenient_items = True

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise self.make_error("invalid")
        return list(value)


def lenient_items(self, field, ret, **kwargs) -> dict:
    """apispec attribute function: the items of a :class:`RawItems` are ``anyOf`` their
    schema and any value (a generated client still gets the typed item; a validator or a
    fuzzer knows that a malformed item does not make the request invalid)."""
    if getattr(field, "lenient_items", False) and "items" in ret:
        return {"items": {"anyOf": [ret["items"], {}]}}
    return {}


class PushSchema(Schema):
    items = RawItems(fields.Nested(PushItemSchema), required=True,
                     validate=validate.Length(min=1, max=MAX_ITEMS),
                     metadata={"description": f"1 to {MAX_ITEMS} items, done in this order"})


# --- answers ------------------------------------------------------------------------------

class PushCaseView(Schema):
    number = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(STATES))
    state_name = fields.String(required=True)
    version = fields.Integer(required=True)


class PushItemResult(Schema):
    index = fields.Integer(required=True, metadata={"description": "position of the item in the batch"})
    client_id = fields.String(allow_none=True)
    type = fields.String(allow_none=True, validate=validate.OneOf(KINDS))
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    status = fields.Integer(required=True, metadata={"description": "HTTP status the item alone would have had"})
    code = fields.String(allow_none=True, metadata={"description": "machine-readable reason (docs/api.md)"})
    message = fields.String(allow_none=True, metadata={"description": "the reason in the user's language"})
    fields_ = fields.Dict(data_key="fields", attribute="fields", allow_none=True,
                          metadata={"description": "field -> messages (validation errors)"})
    case = fields.Nested(PushCaseView, allow_none=True, metadata={
        "description": "the case made or acted on; for a conflict its current state and version (null when "
                       "the case left the sender's view, code case_left_view, and for a report)"})
    original_outcome = fields.String(allow_none=True, validate=validate.OneOf(("created", "done", "conflict")),
                                     metadata={"description": "already_done: what was done the first time"})
    conflict_id = fields.Integer(allow_none=True, metadata={"description": "the kept conflict (dispatch center)"})


class PushAnswer(Schema):
    items = fields.List(fields.Nested(PushItemResult), required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                         metadata={"description": "outcome -> number of items"})


class PhoneCaseView(Schema):
    """The case a report made, small: the phone keeps its own copy."""
    number = fields.String(required=True)
    tracking_code = fields.String(allow_none=True)
    state = fields.String(required=True, validate=validate.OneOf(STATES))
    state_name = fields.String(required=True)
    version = fields.Integer(required=True)
    category_code = fields.String(allow_none=True)
    grid_code = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    lon = fields.Float(allow_none=True)
    lat = fields.Float(allow_none=True)
    crs = fields.String(required=True, metadata={"description": "the system lon/lat are in (?crs=)"})
    reported_at = LocalTime()
    possible_duplicate_of = fields.String(allow_none=True)
    allowed_verbs = fields.List(fields.String(), required=True)


# --- the dispatch center's view of kept conflicts -------------------------------------------

class ConflictQuery(QuerySchema):
    unresolved = fields.Boolean(metadata={"description": "true: only those nobody resolved yet"})
    case = fields.String(validate=validate.Length(min=1, max=32), metadata={"description": "case number"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = bounded.BoundedInt(load_default=0)


class PersonView(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class ConflictView(Schema):
    id = fields.Integer(required=True)
    staff = fields.Nested(PersonView, required=True, metadata={"description": "who did it offline"})
    client_id = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(KINDS))
    body = fields.Dict(required=True, metadata={"description": "what the phone sent (the item without client_id)"})
    code = fields.String(allow_none=True, metadata={"description": "why it did not fit"})
    message = fields.String(allow_none=True)
    case = fields.Nested(PushCaseView, allow_none=True, metadata={"description": "the case now"})
    at_push = fields.Nested(PushCaseView, allow_none=True, metadata={"description": "the case when the item was pushed"})
    created_at = LocalTime()
    resolved_at = LocalTime()
    resolved_by = fields.Nested(PersonView, allow_none=True)
    resolution_note = fields.String(allow_none=True)


class ConflictListView(Schema):
    conflicts = fields.List(fields.Nested(ConflictView), required=True)


class ResolveSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                         metadata={"description": "what was done about it"})
