"""What a results document must hold before it is read: the one place a document is refused.

compare.results.load_results checks that a file is one of ours, of this version; this checks its
content, as far as the readers rely on it: the sections, and in each record the type of every
field that is there (a sparse document, such as a cell that failed before it measured anything,
is fine). A damaged document is refused here with a ResultsError in one line, never deep inside
a report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from compare.results import ResultsError

NUMBER = (int, float)
# A document bench holds in memory has tuples where the file has lists.
LIST = (list, tuple)
Kinds = tuple[type | None, ...]

_RUN: Mapping[str, Kinds] = {
    "cells": LIST,
    "sweep": LIST,
    "stacks": (dict,),
    "environment": (dict,),
}
_RUN_OPTIONAL: Mapping[str, Kinds] = {
    "status": (str, None),
    "started": (str, None),
    "finished": (str, None),
    "command": LIST,
    "config": (dict, None),
    "events": LIST,
    "crosscheck": LIST,
    "crosscheck_runs": LIST,
    "flags": LIST,
}
_CONFIG: Mapping[str, Kinds] = {
    "stacks": LIST,
    "scenarios": LIST,
    "repeat": (int, None),
    "duration_s": (*NUMBER, None),
    "slo_ttfb_ms": (*NUMBER, None),
}
_MEASURED: Mapping[str, Kinds] = {
    "repetition": (int,),
    "status": (str,),
    "error": (str, None),
    "memory": (dict,),
    "machine": (dict,),
    "server_cpu_s": NUMBER,
    "warnings": LIST,
}
_CELL: Mapping[str, Kinds] = {
    **_MEASURED,
    "users": (int,),
    "export_rows": (int, None),
    "database_cpu_s": NUMBER,
    "window": (dict,),
    "requests": (dict,),
    "body_bytes": (dict,),
    "failed_body_bytes": (dict,),
    "load": (dict,),
    "arrival": (dict,),
    "workers": LIST,
    "client": (dict,),
    "timeline": LIST,
    "locust_argv": LIST,
}
_SWEEP: Mapping[str, Kinds] = {
    **_MEASURED,
    "ttfb_s": NUMBER,
    "total_s": NUMBER,
    "body_bytes": (int,),
    "chunked": (bool, None),
}
# The raw records' columns (loadtests.record.RequestRecord), each a list of these.
_COLUMNS: Mapping[str, Kinds] = {
    "kind": (str,),
    "user": (int,),
    "start": NUMBER,
    "end": NUMBER,
    "first_byte": (*NUMBER, None),
    "bytes": (int,),
    "outcome": (str,),
    "worker": (int, None),
    "new_connection": (bool,),
}


def _fits(value: Any, kinds: Kinds) -> bool:
    if value is None:
        return None in kinds
    if isinstance(value, bool):  # a bool is an int to Python, never a number here
        return bool in kinds
    return isinstance(value, tuple(k for k in kinds if k is not None))


_JSON_NAMES = {
    list: "a list",
    tuple: "a list",
    dict: "an object",
    str: "a string",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
}


def _names(kinds: Kinds) -> str:
    """What the kinds are called in JSON: 'a number or null'."""
    names = ["null" if k is None else _JSON_NAMES.get(k, k.__name__) for k in kinds]
    if "a number" in names and "a whole number" in names:
        names.remove("a whole number")
    return " or ".join(dict.fromkeys(names))


def fields(record: Any, expected: Mapping[str, Kinds], where: str, *required: str) -> None:
    """Check that ``record`` is an object whose fields present have the expected types."""
    if not isinstance(record, dict):
        raise ResultsError(f"{where} is not an object")
    for key in required:
        if key not in record:
            raise ResultsError(f"{where} has no {key!r}")
    for key, kinds in expected.items():
        if key in record and not _fits(record[key], kinds):
            raise ResultsError(f"{where}: {key!r} must be {_names(kinds)}")


def _numbers(record: Any, where: str) -> None:
    """Every value of an object a number (or null)."""
    fields(record, dict.fromkeys(record or {}, (*NUMBER, None)), where)


def _list_of(items: Sequence[Any], kinds: Kinds, where: str) -> None:
    if not all(_fits(item, kinds) for item in items):
        raise ResultsError(f"{where} must hold only {_names(kinds)}")


def _requests(table: dict[str, Any], where: str) -> None:
    """The raw records' columns: all there, lists of one length, each value of its type."""
    if not table.get("start"):
        return
    columns = {**_COLUMNS, "intended": (*NUMBER, None), "server_start": (*NUMBER, None)}
    fields(table, dict.fromkeys(columns, (*LIST, None)), where, *_COLUMNS)
    lengths = {len(table[name]) for name in columns if table.get(name) is not None}
    if len(lengths) > 1:
        raise ResultsError(f"{where}: its columns differ in length")
    for name, kinds in columns.items():
        _list_of(table.get(name) or [], kinds, f"{where}[{name!r}]")


def check_cell(cell: Any, where: str) -> None:
    """One load cell: its identity, then each part it has."""
    identity = ("stack", "scenario", "repetition")
    fields(cell, {"stack": (str,), "scenario": (str,), **_CELL}, where, *identity)
    if "window" in cell:
        fields(cell["window"], {"start": NUMBER, "end": NUMBER}, f"{where} window", "start", "end")
    if "requests" in cell:
        _requests(cell["requests"], f"{where} requests")
    for key in ("body_bytes", "failed_body_bytes"):
        if key in cell:
            bins = cell[key]
            fields(bins, {"bin_s": NUMBER, "start": NUMBER, "counts": LIST}, f"{where} {key}")
            if not bins.get("bin_s", 1) > 0:
                raise ResultsError(f"{where} {key}: 'bin_s' must be positive")
            _list_of(bins.get("counts") or [], (int,), f"{where} {key} counts")
    if "load" in cell:
        kinds = {"kind": (str,), "level": (*NUMBER, None)}
        fields(cell["load"], kinds, f"{where} load", "kind", "level")
    if "arrival" in cell:
        kinds = {"rate": (*NUMBER, None), "max_in_flight": (int, None)}
        fields(cell["arrival"], kinds, f"{where} arrival")
    for part in ("memory", "client", "machine"):
        if part in cell:
            numbers = {k: v for k, v in cell[part].items() if not isinstance(v, LIST)}
            _numbers(numbers, f"{where} {part}")
    for worker in cell.get("workers") or []:
        fields(worker, {"cpu_s": NUMBER}, f"{where} workers", "cpu_s")
    for point in cell.get("timeline") or []:
        fields(point, {"t": NUMBER, "pss": NUMBER}, f"{where} timeline", "t", "pss")
    _list_of(cell.get("warnings") or [], (str,), f"{where} warnings")
    _list_of(cell.get("locust_argv") or [], (str,), f"{where} locust_argv")


def check_sweep_point(point: Any, where: str) -> None:
    """One size-sweep point."""
    kinds = {"stack": (str,), "variant": (str,), "rows": (int,), **_SWEEP}
    fields(point, kinds, where, "stack", "variant", "rows")
    if point.get("status") == "ok":
        fields(point, {}, where, "ttfb_s")
    if "memory" in point:
        _numbers(point["memory"], f"{where} memory")
    _list_of(point.get("warnings") or [], (str,), f"{where} warnings")


_CROSSCHECK: Mapping[str, Kinds] = {
    "kind": (str,),
    "stack": (str,),
    "users": (int,),
    "status": (str,),
    "error": (str, None),
    "level": (*NUMBER, None),
    "rows": (int,),
    "baseline_pss": (int,),
    "peak_pss": (int,),
    "hwm_increase": (int, None),
    "window": (dict,),
    "window_bytes": (int,),
    "downloads": LIST,
}
_CROSS_DOWNLOAD: Mapping[str, Kinds] = {
    "start": NUMBER,
    "ttfb_s": (*NUMBER, None),
    "ttlb_s": (*NUMBER, None),
    "body_bytes": (int,),
    "problem": (str, None),
}


def check_crosscheck(entry: Any, where: str) -> None:
    """One re-measurement of the independent client."""
    fields(entry, _CROSSCHECK, where, "kind", "stack", "users", "status")
    if "window" in entry:
        _numbers(entry["window"], f"{where} window")
    for download in entry.get("downloads") or []:
        fields(download, _CROSS_DOWNLOAD, f"{where} download", *_CROSS_DOWNLOAD)


def check_document(document: Any, source: str) -> None:
    """Refuse (ResultsError, one line) a document the readers could not use."""
    fields(document, {**_RUN, **_RUN_OPTIONAL}, source)
    for section in _RUN:
        if section not in document:
            raise ResultsError(f"{source} is missing its {section!r} section")
    config = document.get("config") or {}
    fields(config, _CONFIG, f"{source} config")
    for names in ("stacks", "scenarios"):
        _list_of(config.get(names) or [], (str,), f"{source} config {names}")
    for index, cell in enumerate(document["cells"]):
        check_cell(cell, f"{source} cell {index + 1}")
    for index, point in enumerate(document["sweep"]):
        check_sweep_point(point, f"{source} sweep point {index + 1}")
    for name, stack in document["stacks"].items():
        where = f"{source} stack {name}"
        kinds = {"available": (bool,), "missing": (str, None), "notes": LIST}
        fields(stack, {**kinds, "argv_example": LIST}, where)
    for index, entry in enumerate(document.get("crosscheck_runs") or []):
        check_crosscheck(entry, f"{source} crosscheck run {index + 1}")
    for event in document.get("events") or []:
        fields(event, {"at": (str, None), "message": (str, None)}, f"{source} event")
