"""Narrowing and extending a route's parameters without code.

`[routes."R".limits]` changes parameters the family has:

    duration = { min = 3, max = 5, default = 5 }
    size = { allowed = ["1280*720", "720*1280"], default = "1280*720" }

`[routes."R".params]` adds parameters of the route's own (stored with the prediction and passed to
hosted providers; local engines ignore them):

    shot_type = { type = "string", allowed = ["single", "multi"], default = "single" }

Each entry takes `min`, `max`, `allowed`, `default`, `required` and `description` (`params` also `type`).
A value out of range is refused at submit with 400 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import annotated_types
from pydantic import AfterValidator, BaseModel, Field, TypeAdapter, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from reelserve.catalog.open_params import DERIVED_ATTRIBUTES

LIMIT_KEYS = frozenset({"min", "max", "allowed", "default", "required", "description"})
PARAM_TYPES: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}
RESERVED_NAMES = frozenset({*DERIVED_ATTRIBUTES, "segments", "enable_sync_mode", "end_image", "voice_list",
                            "multi_prompt", "input", "model"})
_CONSTRAINT_NAMES = {
    annotated_types.Ge: "ge", annotated_types.Gt: "gt", annotated_types.Le: "le", annotated_types.Lt: "lt",
    annotated_types.MinLen: "min_length", annotated_types.MaxLen: "max_length",
}
"""The constraints pydantic keeps in a field's metadata, by the Field() keyword (and attribute) naming each."""


def apply_limits(
    model: type[BaseModel], limits: dict[str, Any], extra_params: dict[str, Any], model_name: str
) -> type[BaseModel]:
    """`model` with `limits` applied to its fields and `extra_params` added; ValueError names the key at fault."""
    if not limits and not extra_params:
        return model
    fields: dict[str, Any] = {}
    by_wire_name = {_wire_name(name, info): name for name, info in model.model_fields.items()}
    for given_name, limit in limits.items():
        name = by_wire_name.get(given_name, given_name)
        info = model.model_fields.get(name)
        if info is None or name == "enable_sync_mode":
            known = ", ".join(sorted(by_wire_name.keys() - {"enable_sync_mode"}))
            raise ValueError(f"limits.{given_name}: the route has no such parameter; it has {known}")
        fields[name] = _limited_field(f"limits.{given_name}", info, _table(f"limits.{given_name}", limit))
    for name, spec in extra_params.items():
        if name in model.model_fields or name in by_wire_name or name in RESERVED_NAMES or not name.isidentifier():
            raise ValueError(f"params.{name}: the route already has a parameter of that name, or it is reserved")
        fields[name] = _extra_field(f"params.{name}", _table(f"params.{name}", spec))
    return create_model(model_name, __base__=model, **fields)


def _limited_field(where: str, base: FieldInfo, limit: dict[str, Any]) -> tuple[Any, FieldInfo]:
    unknown = sorted(set(limit) - LIMIT_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; use {', '.join(sorted(LIMIT_KEYS))}")
    constraints: dict[str, Any] = {}
    others: list[Any] = []
    for item in base.metadata:
        if type(item) in _CONSTRAINT_NAMES:
            keyword = _CONSTRAINT_NAMES[type(item)]
            constraints[keyword] = getattr(item, keyword)
        elif type(item).__name__ == "_PydanticGeneralMetadata":
            constraints.update({key: value for key, value in item.__dict__.items() if value is not None})
        else:
            others.append(item)
    if "min" in limit:
        constraints.pop("gt", None)
        constraints["ge"] = limit["min"]
    if "max" in limit:
        constraints.pop("lt", None)
        constraints["le"] = limit["max"]
    annotation = Annotated[(base.annotation, *others)] if others else base.annotation
    return _build(where, annotation, constraints, limit, base)


def _extra_field(where: str, spec: dict[str, Any]) -> tuple[Any, FieldInfo]:
    unknown = sorted(set(spec) - LIMIT_KEYS - {"type"})
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; use type, {', '.join(sorted(LIMIT_KEYS))}")
    type_name = spec.get("type")
    if type_name not in PARAM_TYPES:
        raise ValueError(f"{where}.type: must be one of {', '.join(PARAM_TYPES)} (got {type_name!r})")
    constraints = {}
    if "min" in spec:
        constraints["ge"] = spec["min"]
    if "max" in spec:
        constraints["le"] = spec["max"]
    return _build(where, PARAM_TYPES[type_name] | None, constraints, {"default": None, **spec}, None)


def _build(
    where: str, annotation: Any, constraints: dict[str, Any], limit: dict[str, Any], base: FieldInfo | None
) -> tuple[Any, FieldInfo]:
    required = limit.get("required", base.is_required() if base is not None else False)
    if not isinstance(required, bool):
        raise ValueError(f"{where}.required: must be true or false")
    allowed = limit.get("allowed")
    if allowed is not None and (not isinstance(allowed, list) or not allowed):
        raise ValueError(f"{where}.allowed: must be a non-empty list of values")
    default = PydanticUndefined if required else limit.get("default", base.default if base is not None else None)
    plain = Field(
        default=default,
        description=limit.get("description", base.description if base is not None else None),
        validation_alias=base.validation_alias if base is not None else None,
        validate_default=base.validate_default if base is not None else None,
        **constraints,
    )
    _check_values(where, annotation, plain, allowed, default)
    if allowed is None:
        return annotation, plain
    narrowed = Field(
        default=default,
        description=plain.description,
        validation_alias=plain.validation_alias,
        validate_default=plain.validate_default,
        json_schema_extra=_enum_schema(allowed),
        **constraints,
    )
    return Annotated[annotation, AfterValidator(_one_of(allowed))], narrowed


def _check_values(where: str, annotation: Any, field: FieldInfo, allowed: list[Any] | None, default: Any) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[annotation, field])
    for key, values in (("allowed", allowed or []), ("default", [] if default is PydanticUndefined else [default])):
        for value in values:
            if value is None and key == "default":
                continue
            try:
                adapter.validate_python(value)
            except ValidationError as exc:
                problem = exc.errors(include_url=False)[0]["msg"]
                raise ValueError(f"{where}.{key}: {value!r} is not a valid value: {problem}") from None
    if allowed is not None and default not in (PydanticUndefined, None) and default not in allowed:
        raise ValueError(f"{where}.default: {default!r} is not one of the allowed values {allowed}")


def _one_of(allowed: list[Any]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value is not None and value not in allowed:
            raise ValueError(f"must be one of {', '.join(str(item) for item in allowed)}")
        return value

    return check


def _enum_schema(allowed: list[Any]) -> Callable[[dict[str, Any]], None]:
    def add_enum(schema: dict[str, Any]) -> None:
        branches = [branch for branch in schema.get("anyOf", [schema]) if branch.get("type") != "null"]
        for branch in branches:
            branch["enum"] = list(allowed)

    return add_enum


def _wire_name(name: str, info: FieldInfo) -> str:
    alias = info.validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        first = choices[0]
        return first if isinstance(first, str) else name
    return alias if isinstance(alias, str) else name


def wire_names(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> the name clients send it under, where they differ (end_image -> last_image)."""
    found = {name: _wire_name(name, info) for name, info in model.model_fields.items()}
    return {name: wire for name, wire in found.items() if wire != name}


def _table(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: must be a table such as {{ min = 1, max = 5 }}")
    return value
