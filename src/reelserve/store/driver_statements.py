"""Prebuilt statements run on SQLite's own connection, with the SQL SQLAlchemy compiled for them once and the
column types' own conversions (JSON, UTC datetimes) on the values going in and coming out.

SQLAlchemy's execution machinery costs several times what SQLite itself spends on a read of one row or a
write of a few, and the hottest requests (polling, submitting) are made of those. Elsewhere (PostgreSQL) the
statements run through SQLAlchemy as usual.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, Select, UpdateBase
from sqlalchemy.exc import DBAPIError

Conversion = Callable[[Any], Any] | None


@dataclass(frozen=True)
class CompiledRead:
    sql: str
    parameters: tuple[str, ...]
    parameter_conversions: tuple[Conversion, ...]
    literals: dict[str, Any]
    """Values written into the statement itself (`status == 'created'`), by their parameters' names."""
    conversions: tuple[Conversion, ...]
    row: type[tuple[Any, ...]]

    @classmethod
    def of(cls, statement: Select[Any], dialect: Dialect) -> CompiledRead:
        compiled = statement.compile(dialect=dialect)
        parameters = tuple(compiled.positiontup or ())
        parameter_conversions = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in parameters
        )
        literals = {name: value for name, value in compiled.params.items() if not compiled.binds[name].required}
        columns = list(statement.selected_columns)
        conversions = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
        row = namedtuple("CompiledRow", [column.key for column in columns])  # type: ignore[misc]
        return cls(compiled.string, parameters, parameter_conversions, literals, conversions, row)

    def one_or_none(self, connection: sqlite3.Connection, values: Mapping[str, Any]) -> Any | None:
        given = {**self.literals, **values} if self.literals else values
        parameters = [
            given[name] if convert is None else convert(given[name])
            for name, convert in zip(self.parameters, self.parameter_conversions, strict=True)
        ]
        with _as_sqlalchemy_errors(self.sql, parameters):
            found = connection.execute(self.sql, parameters).fetchone()
        if found is None:
            return None
        return self.row._make(
            value if convert is None else convert(value) for convert, value in zip(self.conversions, found, strict=True)
        )


@dataclass(frozen=True)
class CompiledWrite:
    sql: str
    parameters: tuple[str, ...]
    conversions: tuple[Conversion, ...]

    @classmethod
    def of(cls, statement: UpdateBase, dialect: Dialect, keys: Sequence[str]) -> CompiledWrite:
        """For rows with exactly `keys`; refuses a statement that would need values SQLAlchemy supplies
        itself (column defaults)."""
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        parameters = tuple(compiled.positiontup or ())
        supplied = set(parameters) - set(keys)
        if supplied:
            raise TypeError(f"{sorted(supplied)} would take SQLAlchemy's defaults; give every value")
        conversions = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                            for name in parameters)
        return cls(compiled.string, parameters, conversions)

    def execute_many(self, connection: sqlite3.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        pairs = list(zip(self.parameters, self.conversions, strict=True))
        values = [[row[name] if convert is None else convert(row[name]) for name, convert in pairs] for row in rows]
        with _as_sqlalchemy_errors(self.sql, values):
            connection.executemany(self.sql, values)


@contextmanager
def _as_sqlalchemy_errors(sql: str, parameters: Any) -> Iterator[None]:
    """The driver's errors as SQLAlchemy raises them (IntegrityError, OperationalError, ...)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, parameters, exc, sqlite3.Error) from exc


# Per dialect, since conversions follow its settings (the JSON serializer); keyed by the statements themselves.
_compiled: weakref.WeakKeyDictionary[Dialect, dict[Any, CompiledRead | CompiledWrite]] = weakref.WeakKeyDictionary()


def read_one(connection: Connection, statement: Select[Any], values: Mapping[str, Any]) -> Any | None:
    """The one row `statement` finds, or None; its columns as attributes."""
    if connection.dialect.name != "sqlite":
        return connection.execute(statement, values).one_or_none()
    known = _compiled.setdefault(connection.dialect, {})
    compiled = known.get(statement)
    if compiled is None:
        compiled = known[statement] = CompiledRead.of(statement, connection.dialect)
    assert isinstance(compiled, CompiledRead)
    return compiled.one_or_none(connection.connection.dbapi_connection, values)  # type: ignore[arg-type]


def write_many(connection: Connection, statement: UpdateBase, rows: Sequence[Mapping[str, Any]]) -> None:
    """Runs `statement` once for each row; every row has the same keys."""
    if not rows:
        return
    if connection.dialect.name != "sqlite":
        connection.execute(statement, list(rows))
        return
    keys = tuple(rows[0])
    known = _compiled.setdefault(connection.dialect, {})
    compiled = known.get((statement, keys))
    if compiled is None:
        compiled = known[(statement, keys)] = CompiledWrite.of(statement, connection.dialect, keys)
    assert isinstance(compiled, CompiledWrite)
    compiled.execute_many(connection.connection.dbapi_connection, rows)  # type: ignore[arg-type]
