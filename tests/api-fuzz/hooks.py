"""Schemathesis hooks for scripts/api-fuzz: NDJSON request bodies, one JSON value per line
(what agents send to POST /api/v1/events)."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    values = value if isinstance(value, list) else [value]
    return "".join(json.dumps(v, ensure_ascii=False) + "\n" for v in values).encode()
