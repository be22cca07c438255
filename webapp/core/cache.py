"""A JSON serializer for Django's Redis cache: Django's default pickles, and unpickling what Redis holds
would run whatever code someone who can write to Redis put there."""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder


class JSONSerializer:
    """Values are JSON; integers stay plain, as in Django's own serializer, so incr()/decr() work."""

    def dumps(self, obj) -> bytes | int:
        if type(obj) is int:
            return obj
        return json.dumps(obj, cls=DjangoJSONEncoder).encode()

    def loads(self, data: bytes):
        try:
            return int(data)
        except ValueError:
            return json.loads(data)
