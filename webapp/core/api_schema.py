"""Serializers that describe, for the OpenAPI schema, the dictionaries the models build themselves
(`to_dict`, `summary_dict`, ...): one dictionary for the API, the websockets and the pages, so the
API answers with it and these fields only document it (the schema tests check that they agree)."""

from __future__ import annotations

import functools
from typing import Any

from rest_framework import serializers


class FromDict(serializers.Serializer):
    """Answers with `instance.<method>()`; its declared fields are that dictionary's schema."""

    method = "to_dict"

    def to_representation(self, instance: Any) -> dict:
        return getattr(instance, self.method)()


@functools.cache
def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of one page of a list (webapp/core/api_pages.Pages) of `item`s, for function views."""
    fields = {
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": item(many=True),
    }
    return type(f"Paginated{item.__name__.removesuffix('Serializer')}List", (serializers.Serializer,), fields)


class ErrorSerializer(serializers.Serializer):
    """What every API error answers: a message, or messages by field."""

    error = serializers.CharField(required=False)
    errors = serializers.DictField(required=False)


ERROR_RESPONSE = {
    "description": "An error: `error` (a message) or `errors` (messages by field)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def document_errors(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: every operation may answer a JSON error (4XX), as
    webapp/core/api_errors.py makes them, so the schema says so and its shape."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = {
        "type": "object",
        "properties": {"error": {"type": "string"}, "errors": {"type": "object", "additionalProperties": {}}},
    }
    for path in result.get("paths", {}).values():
        for operation in path.values():
            operation.setdefault("responses", {}).setdefault("4XX", ERROR_RESPONSE)
    return result
