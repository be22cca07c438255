"""Serializers that describe, for the OpenAPI schema, the dictionaries the models build themselves
(`to_dict`, `summary_dict`, ...): one dictionary for the API, the websockets and the pages, so the
API answers with it and these fields only document it (the schema tests check that they agree)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class FromDict(serializers.Serializer):
    """Answers with `instance.<method>()`; its declared fields are that dictionary's schema."""

    method = "to_dict"

    def to_representation(self, instance: Any) -> dict:
        return getattr(instance, self.method)()


def nullable(field: serializers.Field) -> serializers.Field:
    field.allow_null = True
    return field


class ErrorSerializer(serializers.Serializer):
    """What every API error answers: a message, or messages by field."""

    error = serializers.CharField(required=False)
    errors = serializers.DictField(required=False)
