"""A small registry that routes API views and generates their OpenAPI 3.1 document from pydantic models.

Each view is declared once with its body, query and response models; the same models validate the
request and describe it in /api/v1/openapi.json, so the document cannot drift from the code.
(Libraries that do this — spectree, flask-openapi3 — bring their own error bodies and documentation
pages loading scripts from outside; ours must answer in the project's error format and language and
load nothing from the internet, and pydantic's JSON Schema output does the heavy part.)
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from flask import Blueprint, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from lecturehub.core.forms import MAX_ID

from .errors import ApiError
from .schemas import Error

REF_TEMPLATE = "#/components/schemas/{model}"
ERROR_STATUSES = {400: "Bad request (`bad_request`, `invalid_json`, `csrf_failed`)",
                  401: "No valid credential (`unauthenticated`, `invalid_token`, `token_revoked`)",
                  403: "Not this caller's venue (`wrong_venue`, `forbidden`)",
                  404: "No such venue or lecture (`venue_not_found`, `lecture_not_found`, `not_found`)",
                  422: "A value is missing or invalid (`invalid_request`, with `details`)",
                  429: "Too many requests for this token (`rate_limited`); see Retry-After",
                  503: "The database cannot take writes now (`unavailable`); send again later"}
_RULE_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


@dataclass
class Operation:
    rule: str
    method: str
    endpoint: str
    summary: str
    description: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    responses: dict[int, tuple[str, type[BaseModel]]] = field(default_factory=dict)
    public: bool = False


class ApiRegistry:
    def __init__(self, blueprint: Blueprint, title: str, version: str, description: str):
        self.blueprint, self.title, self.version, self.description = blueprint, title, version, description
        self.operations: list[Operation] = []

    def route(self, rule: str, method: str = "GET", *, summary: str, responses: dict[int, tuple[str, type]],
              body: type[BaseModel] | None = None, query: type[BaseModel] | None = None, public: bool = False):
        """Register a view and describe it. The view reads its input with `json_body` and `query_args`
        after it has checked the caller's access, so a stranger learns nothing from validation errors."""

        def decorator(view):
            self.blueprint.add_url_rule(rule, view.__name__, view, methods=[method])
            self.operations.append(Operation(rule, method.lower(), view.__name__, summary,
                                             (view.__doc__ or "").strip(), body, query, responses, public))
            return view

        return decorator

    def document(self, url_prefix: str) -> dict:
        """The OpenAPI 3.1 document of every registered operation."""
        inputs = {op.body for op in self.operations if op.body}
        outputs = {model for op in self.operations for _desc, model in op.responses.values()} | {Error}
        pairs = [(m, "validation") for m in inputs] + [(m, "serialization") for m in outputs]
        refs, definitions = models_json_schema(pairs, ref_template=REF_TEMPLATE)
        paths: dict[str, dict] = {}
        for op in self.operations:
            path = url_prefix + _RULE_PARAM.sub(r"{\2}", op.rule)
            item = {"operationId": op.endpoint, "summary": op.summary, "description": op.description,
                    "parameters": _path_parameters(op.rule) + _query_parameters(op.query),
                    "responses": {}}
            if op.body is not None:
                item["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": refs[(op.body, "validation")]}}}
            for status, (text, model) in op.responses.items():
                item["responses"][str(status)] = _response(text, refs[(model, "serialization")])
            errors = {s: t for s, t in ERROR_STATUSES.items() if not op.public or s in (404, 429)}
            for status, text in errors.items():
                item["responses"].setdefault(str(status), _response(text, refs[(Error, "serialization")]))
            if op.public:
                item["security"] = []
            paths.setdefault(path, {})[op.method] = item
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version, "description": self.description},
            "servers": [{"url": "/"}],
            "security": [{"deviceToken": []}],
            "paths": paths,
            "components": {
                "schemas": definitions.get("$defs", {}),
                "securitySchemes": {"deviceToken": {
                    "type": "http", "scheme": "bearer",
                    "description": "A device token created by the venue's coordinator (shown once)."}},
            },
        }


def _response(text: str, schema: dict) -> dict:
    return {"description": text, "content": {"application/json": {"schema": schema}}}


def _path_parameters(rule: str) -> list[dict]:
    parameters = []
    for converter, name in _RULE_PARAM.findall(rule):
        schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID} if converter == "int" else {"type": "string"}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _query_parameters(model: type[BaseModel] | None) -> list[dict]:
    if model is None:
        return []
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        # An optional parameter is simply left out of the query string; it has no "null" to send.
        variants = [v for v in prop.get("anyOf", [prop]) if v.get("type") != "null"]
        parameters.append({"name": name, "in": "query", "required": name in required,
                           "description": prop.get("description", ""), "schema": variants[0]})
    return parameters


def json_body(model: type[BaseModel]):
    """The request's JSON body validated by `model`: 400 invalid_json, 422 invalid_request."""
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:  # an empty body included
        raise ApiError(400, "invalid_json") from exc
    return _validated(model, data)


def query_args(model: type[BaseModel]):
    return _validated(model, request.args.to_dict())


def _validated(model: type[BaseModel], data):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [{"loc": [str(part) for part in error["loc"]], "type": error["type"]}
                   for error in exc.errors(include_url=False, include_context=False, include_input=False)]
        raise ApiError(422, "invalid_request", details=details) from exc
