"""Many new rows of one model, in one ``executemany``, at the driver's speed.

SQLAlchemy's Core ``executemany`` re-processes every parameter of every row through its
compiled-statement machinery: for a 1,000-order bulk request (4,000 rows) that was half
the request's time, against a third for the driver's own INSERTs. Here the statement is
compiled once per model, attribute set and dialect; the columns whose type converts
values (``Money``, ``UTCDateTime``, ``JSON``: the column type's own bind processor, so
they store exactly what the ORM would) are converted in one tight loop; and the rows go
to the driver as tuples.

A value that is the very object of the row before (every row's ``created_at``, say) is
converted once: bulk rows share their timestamps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Dialect, Table, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import Base


@dataclass(frozen=True)
class _Converter:
    position: int  # in the statement's parameter order
    convert: Callable[[Any], Any]  # the column type's bind processor
    # JSON columns store None as the JSON text 'null' (as the ORM does), unless the type
    # says none_as_null; every other type binds None as SQL NULL unconverted.
    converts_none: bool


@dataclass(frozen=True)
class _Plan:
    sql: str
    values_of: Callable[[dict[str, Any]], tuple[Any, ...]]  # a row's values, in SQL order
    converters: tuple[_Converter, ...]


async def insert_rows(
    session: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]]
) -> None:
    """INSERT ``rows`` of ``model``, keyed by attribute name. The first row's keys name the
    columns; every row must have the same keys."""
    if not rows:
        return
    connection = await session.connection()
    plan = _plan(model, frozenset(rows[0]), connection.dialect)
    if plan is None:  # a driver with named parameters: Core's executemany does it all
        names = {attr.key: attr.columns[0].name for attr in inspect(model).column_attrs}
        table = cast(Table, model.__table__)
        await session.execute(
            insert(table), [{names[key]: value for key, value in row.items()} for row in rows]
        )
        return
    await connection.exec_driver_sql(plan.sql, _as_tuples(rows, plan))


def _as_tuples(rows: Sequence[dict[str, Any]], plan: _Plan) -> list[tuple[Any, ...]]:
    if not plan.converters:
        return [plan.values_of(row) for row in rows]
    last_in: dict[int, Any] = {}
    last_out: dict[int, Any] = {}
    converted: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(plan.values_of(row))
        for converter in plan.converters:
            position = converter.position
            value = values[position]
            if value is None and not converter.converts_none:
                continue
            if value is last_in.get(position, _NOTHING):
                values[position] = last_out[position]
            else:
                last_in[position] = value
                values[position] = last_out[position] = converter.convert(value)
        converted.append(tuple(values))
    return converted


_NOTHING = object()


@lru_cache(maxsize=64)  # keyed by dialect instance: one per engine
def _plan(model: type[Base], attributes: frozenset[str], dialect: Dialect) -> _Plan | None:
    """How to insert rows with these attributes; None where the driver's parameters are
    named rather than positional."""
    table = cast(Table, model.__table__)  # declarative models are mapped to a Table
    column_of = {attr.key: attr.columns[0] for attr in inspect(model).column_attrs}
    unknown = sorted(attributes - column_of.keys())
    if unknown:
        raise ValueError(f"{model.__name__} has no attributes {unknown}")
    given = {column_of[name].name: name for name in attributes}
    missing_defaults = sorted(
        column.name
        for column in table.columns
        if column.name not in given and column.default is not None
    )
    if missing_defaults:
        # A Python-side default would need SQLAlchemy to fill it in: name the value instead.
        raise ValueError(f"rows of {model.__name__} must give {missing_defaults}")
    # for_executemany: no RETURNING of generated keys (PostgreSQL would send them back).
    compiled = insert(table).compile(dialect=dialect, column_keys=list(given), for_executemany=True)
    if compiled.positiontup is None:
        return None
    order = [given[name] for name in compiled.positiontup]
    getter = itemgetter(*order)
    converters = []
    for position, name in enumerate(order):
        column_type = column_of[name].type
        convert = column_type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            converts_none = bool(getattr(column_type, "should_evaluate_none", False))
            converters.append(_Converter(position, convert, converts_none))
    return _Plan(
        sql=compiled.string,
        # itemgetter of one name gives the value itself, not a 1-tuple
        values_of=getter if len(order) > 1 else lambda row: (getter(row),),
        converters=tuple(converters),
    )
