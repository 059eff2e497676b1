"""OpenAPI links: every `201` of `POST /x` links to the operations on `/x/{id}` (and below).

Clients and schemathesis' stateful tests follow them: create a post, then read, change,
delete and restore that very post, instead of guessing ids. Derived from the route table, so a
new resource gets its links without any code here.
"""

import re
from typing import Any

from fastapi import FastAPI

_METHODS = {"get", "put", "patch", "delete", "post"}


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = schema.get("paths", {})
    for path, item in paths.items():
        created = item.get("post", {}).get("responses", {}).get("201")
        if created is None:
            continue
        pattern = re.compile(re.escape(path) + r"/\{(?P<param>\w+)\}(?P<rest>/[^{}]*)?")
        for target_path, target_item in paths.items():
            match = pattern.fullmatch(target_path)
            if match is None:
                continue
            for method, operation in target_item.items():
                if method not in _METHODS or "operationId" not in operation:
                    continue
                links = created.setdefault("links", {})
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {match["param"]: "$response.body#/id"},
                    "description": f"{method.upper()} {target_path} of the created resource",
                }
    return schema


class LinkedAPI(FastAPI):
    """FastAPI whose OpenAPI document carries the links above (built once, then cached)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            add_links(super().openapi())
        assert self.openapi_schema is not None
        return self.openapi_schema
