"""JSON responses encoded with orjson. Amounts (``Decimal``) become JSON numbers: they
have at most two decimals, which a float prints back exactly."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from gql.resolvers.shapes import json_default


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, default=json_default)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)
