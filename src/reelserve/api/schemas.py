"""JSON schemas of pydantic models for requests the routes read themselves, written into the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's schema with its nested models written in place: the document has no `$defs` of its own."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(value: Any) -> Any:
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {name: resolve(inner) for name, inner in value.items()}
        if isinstance(value, list):
            return [resolve(inner) for inner in value]
        return value

    resolved: dict[str, Any] = resolve(schema)
    return resolved
