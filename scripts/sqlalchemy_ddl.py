#!/usr/bin/env python3
"""Print the PostgreSQL DDL of SQLAlchemy / SQLModel models, with no database connection.

Usage: python scripts/sqlalchemy_ddl.py [--path DIR] MODULE [MODULE ...]

Imports each MODULE (a package is imported with all its submodules), collects every
SQLAlchemy ``MetaData`` it can reach (``SQLModel.metadata``, declarative bases, module-level
``MetaData`` objects), and compiles enums, tables, indexes and comments against the PostgreSQL
dialect. The output is plain DDL on stdout, one statement per paragraph, for `migrated`'s
``models.command``. Errors go to stderr as ``file:line:column: message`` (exit 1), so a Python
syntax error in a model file is reported like a SQL syntax error in a model file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import traceback
from pathlib import Path


def import_all(name: str) -> list:
    module = importlib.import_module(name)
    modules = [module]
    if hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, prefix=name + "."):
            modules.append(importlib.import_module(info.name))
    return modules


def collect_metadata(modules: list) -> list:
    from sqlalchemy import MetaData

    found: list = []

    def add(md) -> None:
        if isinstance(md, MetaData) and all(md is not m for m in found):
            found.append(md)

    try:
        from sqlmodel import SQLModel

        add(SQLModel.metadata)
    except ImportError:
        pass
    for module in modules:
        for value in vars(module).values():
            add(value)
            add(getattr(value, "metadata", None))
    return found


def enum_types(tables) -> list:
    from sqlalchemy import Enum

    seen: dict = {}
    for table in tables:
        for column in table.columns:
            col_type = column.type
            if isinstance(col_type, Enum) and col_type.native_enum and col_type.name:
                key = (col_type.schema or table.schema, col_type.name)
                seen.setdefault(key, col_type)
    return list(seen.values())


def ddl(metadata_list: list) -> list[str]:
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects.postgresql.named_types import CreateEnumType
    from sqlalchemy.schema import CreateIndex, CreateTable, SetColumnComment, SetTableComment

    dialect = postgresql.dialect()
    tables = [t for md in metadata_list for t in md.sorted_tables]
    statements: list[str] = []
    for enum in enum_types(tables):
        statements.append(str(CreateEnumType(enum).compile(dialect=dialect)))
    for table in tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)))
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            statements.append(str(CreateIndex(index).compile(dialect=dialect)))
        if table.comment:
            statements.append(str(SetTableComment(table).compile(dialect=dialect)))
        for column in table.columns:
            if column.comment:
                statements.append(str(SetColumnComment(column).compile(dialect=dialect)))
    return [s.strip() for s in statements]


def report(exc: BaseException) -> None:
    if isinstance(exc, SyntaxError) and exc.filename:
        print(f"{exc.filename}:{exc.lineno}:{exc.offset or 1}: {exc.msg}", file=sys.stderr)
        return
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "importlib" not in f.filename]
    where = f"{frames[-1].filename}:{frames[-1].lineno}:1: " if frames else ""
    print(f"{where}{type(exc).__name__}: {exc}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=".", help="folder to import the modules from")
    parser.add_argument("modules", nargs="+", help="module or package holding the models")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.path).resolve()))
    try:
        modules = [m for name in args.modules for m in import_all(name)]
        metadata_list = collect_metadata(modules)
        if not any(md.tables for md in metadata_list):
            print(f"{', '.join(args.modules)}: no SQLAlchemy tables found", file=sys.stderr)
            return 1
        for statement in ddl(metadata_list):
            print(statement + ";\n")
    except Exception as exc:  # noqa: BLE001 - every failure becomes one located error line
        report(exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
