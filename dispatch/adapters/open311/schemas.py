"""Open311 GeoReport v2 answers, for the OpenAPI document (the JSON form; ``.xml`` carries the
same elements, lists named as in the spec's examples). Answers are lists, as the spec says."""
from marshmallow import Schema, fields

_TIME = {"format": "date-time"}


class EndpointSchema(Schema):
    specification = fields.String(required=True)
    url = fields.String(required=True)
    changeset = fields.String(required=True, metadata=_TIME)
    type = fields.String(required=True)
    formats = fields.List(fields.String(), required=True)


class DiscoverySchema(Schema):
    changeset = fields.String(required=True, metadata=_TIME)
    contact = fields.String(required=True)
    key_service = fields.String(required=True)
    endpoints = fields.List(fields.Nested(EndpointSchema), required=True)


class ServiceSchema(Schema):
    service_code = fields.String(required=True, metadata={"description": "A small class of the catalog"})
    service_name = fields.String(required=True)
    description = fields.String(allow_none=True)
    metadata = fields.Boolean(required=True)
    type = fields.String(required=True)
    keywords = fields.String(allow_none=True)
    group = fields.String(allow_none=True)


class ServiceDefinitionSchema(Schema):
    service_code = fields.String(required=True)
    attributes = fields.List(fields.Dict(), required=True, metadata={"description": "Always empty here"})


class ServiceRequestSchema(Schema):
    """A request as the public tracking page shows it: no reporter data, only public answers."""
    service_request_id = fields.String(required=True, metadata={"description": "The case number"})
    status = fields.String(required=True, metadata={"enum": ["open", "closed"]})
    status_notes = fields.String(allow_none=True)
    service_name = fields.String(allow_none=True)
    service_code = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    agency_responsible = fields.String(allow_none=True)
    service_notice = fields.String(allow_none=True)
    requested_datetime = fields.String(allow_none=True, metadata=_TIME)
    updated_datetime = fields.String(allow_none=True, metadata=_TIME)
    expected_datetime = fields.String(allow_none=True, metadata=_TIME)
    address = fields.String(allow_none=True)
    address_id = fields.String(allow_none=True)
    zipcode = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    long = fields.Float(allow_none=True)
    media_url = fields.String(allow_none=True)


class ServiceRequestReceiptSchema(Schema):
    service_request_id = fields.String(required=True, metadata={"description": "The case number"})
    service_notice = fields.String(allow_none=True)
    account_id = fields.String(allow_none=True)
