"""Reads of one row by a prebuilt SELECT on SQLite's own connection, with the SQL that SQLAlchemy compiled for
it once and its column types' own conversions: SQLAlchemy's execution machinery costs several times what
SQLite spends on such a read, and polling makes it the commonest request."""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Select

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class CompiledRead:
    sql: str
    parameters: tuple[str, ...]
    conversions: tuple[Processor, ...]
    row: type[tuple[Any, ...]]

    @classmethod
    def of(cls, statement: Select[Any], dialect: Dialect) -> CompiledRead:
        """Refuses a statement whose parameters SQLAlchemy would convert: they are passed as they are."""
        compiled = statement.compile(dialect=dialect)
        parameters = tuple(compiled.positiontup or ())
        for name in parameters:
            if compiled.binds[name].type.bind_processor(dialect) is not None:
                raise TypeError(f"parameter {name!r} needs converting; read it through SQLAlchemy")
        columns = list(statement.selected_columns)
        conversions = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
        row = namedtuple("CompiledRow", [column.key for column in columns])  # type: ignore[misc]
        return cls(compiled.string, parameters, conversions, row)

    def one_or_none(self, connection: sqlite3.Connection, values: Mapping[str, Any]) -> Any | None:
        found = connection.execute(self.sql, [values[name] for name in self.parameters]).fetchone()
        if found is None:
            return None
        return self.row._make(
            value if convert is None or value is None else convert(value)
            for convert, value in zip(self.conversions, found, strict=True)
        )
