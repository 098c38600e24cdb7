"""The field specs (xolap.xapi.fields) compiled once, at import, into one straight-line Python row builder.

The generated function does exactly what the generic interpretation did (same values, same rejection reasons in
the same field order) without walking the plan per statement: each parent object is looked up once, each source is
an inlined dict.get, event-type scoping is a plain `if`, converters are called directly with the common JSON type
handled inline. rows.BUILD_ROW_SOURCE shows the generated code; the specs stay the single definition.

Two builders come from the same plan: `build_row` reads a line through msgspec's typed decode into Structs
(xolap.xapi.read_shape; attributes instead of dict lookups, no dict for an object the mapping reads) and hands any
line that decode cannot read exactly as torus_json.loads to `_build_row_parsed`, which reads the dicts loads gives.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import msgspec

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.xapi import fields as spec
from xolap.xapi import read_shape, torus_json

# Common JSON types whose converter result is known, inlined: kind → [(test on `raw`, the converter's result)].
_FAST_PATHS: dict[str, list[tuple[str, str]]] = {
    "string": [("type(raw) is str", "raw")],
    "text": [("type(raw) is str", "raw")],
    "response": [("type(raw) is str", "raw")],
    # a language map with an en-US string (rows._to_lang_map's first choice) gives that string
    "lang_map": [("type(raw) is str", "raw"), ("type(raw) is dict and type(raw.get('en-US')) is str", "raw['en-US']")],
    "float64": [("type(raw) is float", "raw"), ("type(raw) is int", "float(raw)")],
    "bool": [("type(raw) is bool", "raw")],
    "uint64": [("type(raw) is int and 0 <= raw <= 18446744073709551615", "raw")],
    "uint32": [("type(raw) is int and 0 <= raw <= 4294967295", "raw")],
    "count": [("type(raw) is int and 0 <= raw <= 4294967295", "raw")],
}


def _generate(
    converters: dict[str, Callable[[Any], Any]],
    invalid_reason: Callable[[spec.Field, spec.Source], str],
    missing_reason: Callable[[spec.Field], str],
    warning: Callable[[str, Any], str],
    env: dict[str, Any],
    constants: dict[Any, str],
    shapes: dict[tuple[str, ...], read_shape.Shape] | None,
) -> str:
    """Python source of a row builder, its globals added to `env` (`constants` names their values once for both
    builders). Without `shapes`: `_build_row_parsed(line, *, source_file, source_etag, source_line, warnings,
    attributed)`, which parses the line with torus_json.loads and reads dicts. With them: `build_row` (the same
    arguments), which decodes a line read_shape.decodes_exactly accepts into the read Structs and reads their
    attributes, and hands any other line, or one the typed decode refuses, to _build_row_parsed."""

    def const(value: Any) -> str:
        """A name bound to `value` in the generated function's globals (reasons, keys, event-type sets)."""
        key = (type(value), value)
        if key not in constants:
            name = f"_k{len(constants)}"
            constants[key] = name
            env[name] = value
        return constants[key]

    parents: dict[tuple[str, ...], str] = {(): "statement"}
    node_lines: list[str] = []

    def read(path: tuple[str, ...]) -> str:
        """The expression reading the last key of `path` from its parent object's variable (None when absent)."""
        parent = parents[path[:-1]]
        if shapes is None:
            return f"{parent}.get({const(path[-1])})"
        return f"{parent}.{shapes[path[:-1]].attributes[path[-1]]}"

    def node(path: tuple[str, ...]) -> str:
        """The variable holding the object at `path` (an empty dict when absent or not an object). A required
        object's variable is set by the statement checks at the head (it is an object past them)."""
        if path not in parents:
            node(path[:-1])  # its parent first
            name = f"n{len(parents)}"
            parents[path] = name
            if len(path) == 1 and path[0] in spec.REQUIRED_OBJECTS:
                return name
            node_lines.append(f"    {name} = {read(path)}")
            if shapes is None:
                node_lines.append(f"    if type({name}) is not dict: {name} = _EMPTY")
            else:  # the typed decode gives the object's Struct or None
                env[f"_EMPTY_{name}"] = shapes[path].empty
                node_lines.append(f"    if {name} is None: {name} = _EMPTY_{name}")
        return parents[path]

    def converted(field: spec.Field, target: str, indent: str, reason: str, sink: str) -> list[str]:
        if shapes is None:
            convert = f"_conv_{field.kind}"
            env[convert] = converters[field.kind]
        else:  # a value of the typed decode holding an integer beyond 64 bits raises NotExact
            convert = f"_exact_conv_{field.kind}"
            env[convert] = read_shape.exact_only(converters[field.kind])
        if field.column in spec.REJECTING_FIELDS:
            on_invalid = [f"{indent}    raise Rejected({const(reason)}) from None"]
        elif field.column in spec.IDENTITY_FIELDS:  # never the value of a learner's identity
            on_invalid = [f"{indent}    {target} = None", f"{indent}    {sink}.append({const(reason)})"]
        else:
            on_invalid = [f"{indent}    {target} = None", f"{indent}    {sink}.append(_warning({const(reason)}, raw))"]
        call = [
            f"{indent}try:",
            f"{indent}    {target} = {convert}(raw)",
            f"{indent}except _Invalid:",
            *on_invalid,
        ]
        fast = _FAST_PATHS.get(field.kind)
        if not fast:
            return call
        out: list[str] = []
        keyword = "if"
        for test, result in fast:
            out += [f"{indent}{keyword} {test}:", f"{indent}    {target} = {result}"]
            keyword = "elif"
        return out + [f"{indent}else:"] + ["    " + line for line in call]

    def value_code(
        field: spec.Field, target: str, indent: str, event_type: str | None, sink: str = "warnings"
    ) -> list[str]:
        """Code setting `target` to the field's value (first present, or truthy, source wins), appending a warning
        to `sink` for a malformed optional value, or raising Rejected."""
        missing = missing_reason(field) if field.column in spec.REQUIRED_FIELDS else None
        out: list[str] = []
        depth = indent
        for index, source in enumerate(field.sources):
            node(source.path[:-1])
            out.append(f"{depth}raw = {read(source.path)}")
            last = index == len(field.sources) - 1
            condition = "raw" if field.fallback == "truthy" and not last else "raw is not None"
            if source.only_for:
                if event_type is None:
                    raise RuntimeError(f"{field.column}: a source scoped to event types cannot decide the event type")
                condition += f" and {event_type} in {const(frozenset(source.only_for))}"
            out.append(f"{depth}if {condition}:")
            out.extend(converted(field, target, depth + "    ", invalid_reason(field, source), sink))
            out.append(f"{depth}else:")
            depth += "    "
        out.append(f"{depth}raise Rejected({const(missing)})" if missing is not None else f"{depth}{target} = None")
        return out

    variables = {field.column: f"v_{i}" for i, field in enumerate(spec.FIELDS)}
    deciding = {spec.FIELDS_BY_COLUMN[c].column for c in ("verb_id", "object_type")}
    body: list[str] = []
    # The event type needs verb and object type first; their own problems are reported at their field's turn.
    for column in ("verb_id", "object_type"):
        field = spec.FIELDS_BY_COLUMN[column]
        if field.only_for:
            raise RuntimeError(f"{column} decides the event type, it cannot be scoped to event types")
        var = variables[column]
        body.append(f"    err_{var} = None")
        body.append(f"    w_{var} = []")
        body.append("    try:")
        body.extend(value_code(field, var, "        ", None, sink=f"w_{var}"))
        body.append("    except Rejected as exc:")
        body.append(f"        {var} = None")
        body.append(f"        err_{var} = exc.args[0]")
    verb, object_type = variables["verb_id"], variables["object_type"]
    keyword = "if"
    for event_type, verbs, wanted_type in spec.EVENT_TYPE_RULES:
        test = f"{verb} in {const(frozenset(verbs))}"
        if wanted_type is not None:
            test += f" and {object_type} == {const(wanted_type)}"
        body.append(f"    {keyword} {test}:")
        body.append(f"        event_type = {const(event_type)}")
        keyword = "elif"
    body.append("    else:")
    body.append(f"        event_type = {const(spec.UNKNOWN_EVENT_TYPE)}")
    for field in spec.FIELDS:
        var = variables[field.column]
        if field.column in deciding:
            body.append(f"    if err_{var} is not None:")
            body.append(f"        raise Rejected(err_{var})")
            body.append(f"    if w_{var}:")
            body.append(f"        warnings.extend(w_{var})")
            continue
        if field.only_for:
            body.append(f"    if event_type in {const(frozenset(field.only_for))}:")
            body.extend(value_code(field, var, "        ", "event_type"))
            body.append("    else:")
            body.append(f"        {var} = None")
        else:
            body.extend(value_code(field, var, "    ", "event_type"))

    computed = {
        spec.EVENT_TYPE_COLUMN: "event_type",
        "event_hash": "_sha256(line).hexdigest()",
        "source_file": "source_file",
        "source_etag": "source_etag",
        "source_line": "source_line",
    }
    if set(computed) != {spec.EVENT_TYPE_COLUMN, *spec.PROVENANCE_COLUMNS}:
        raise RuntimeError("compiled row builder out of step with fields.PROVENANCE_COLUMNS")
    row = ", ".join(variables.get(name) or computed[name] for name in MAPPED_COLUMN_NAMES)
    # A row that will be returned hands its statement to `attributed` when the statement names experiment
    # attributions (its attribution rows are read from it, not from the line parsed again).
    arguments = "line, *, source_file, source_etag, source_line, warnings=_DISCARD, attributed=None"
    if shapes is None:
        node(spec.ATTRIBUTIONS_PATH[:-1])
        body.append(f"    if attributed is not None and {read(spec.ATTRIBUTIONS_PATH)} is not None:")
        body.append("        attributed.append(statement)")
        head = [
            f"def _build_row_parsed({arguments}):",
            "    try:",
            "        statement = _loads(line)",
            "    except ValueError:",
            f"        raise Rejected({const('not valid JSON')}) from None",
            "    if type(statement) is not dict:",
            f"        raise Rejected({const('not a JSON object')})",
        ]
    else:
        parsed = (
            "_build_row_parsed(line, source_file=source_file, source_etag=source_etag, source_line=source_line, "
            "warnings=warnings, attributed=attributed)"
        )
        # A line naming attributions hands its parsed statement to `attributed`: it is parsed as a dict at once.
        head = [
            f"def build_row({arguments}):",
            f"    if (attributed is not None and {const(spec.ATTRIBUTIONS_PATH[-1].rsplit('_')[-1].encode())} in line)"
            f" or (len(line) > {read_shape.SHALLOW_BYTES} and not _decodes_exactly(line)):",
            f"        return {parsed}",
            "    try:",
            "        statement = _decode(line)",
            "    except _DECODE_ERRORS:",
            f"        return {parsed}",
            "    if attributed is not None:  # attributions under a key spelled with escapes",
            "        held = statement",
        ]
        indent = "        "
        for depth in range(1, len(spec.ATTRIBUTIONS_PATH)):
            path = spec.ATTRIBUTIONS_PATH[:depth]
            head.append(f"{indent}held = held.{shapes[path[:-1]].attributes[path[-1]]}")
            head.append(f"{indent}if held is not None:")
            indent += "    "
        last = spec.ATTRIBUTIONS_PATH
        head.append(f"{indent}if held.{shapes[last[:-1]].attributes[last[-1]]} is not None:")
        head.append(f"{indent}    return {parsed}")
    for key in spec.REQUIRED_OBJECTS:
        name = node((key,))
        head.append(f"    {name} = {read((key,))}")
        head.append(f"    if {'type(' + name + ') is not dict' if shapes is None else name + ' is None'}:")
        head.append(f"        raise Rejected({const(f'{key}: missing or not an object')})")
    # Nodes are generated while generating the body, so assemble after it.
    env.update(_EMPTY={}, _loads=torus_json.loads, _DISCARD=_Discard(), _warning=warning, _sha256=hashlib.sha256)
    rest = node_lines + body + [f"    return ({row})"]
    if shapes is not None:  # a value loads gives differently: the line is read the other way, its warnings dropped
        head.append("    kept = len(warnings)")
        head.append("    try:")
        rest = ["    " + line for line in rest]
        rest += ["    except _NotExact:", "        del warnings[kept:]", f"        return {parsed}"]
    return "\n".join(head + rest + [""])


class _Discard:
    """The default warnings sink: a caller that does not ask for warnings does not keep them."""

    def append(self, _item: Any) -> None:
        pass

    def extend(self, _items: Any) -> None:
        pass

    def __len__(self) -> int:
        return 0

    def __delitem__(self, _index: Any) -> None:
        pass


def compile_row_builder(
    converters: dict[str, Callable[[Any], Any]],
    invalid: type[Exception],
    rejected: type[Exception],
    invalid_reason: Callable[[spec.Field, spec.Source], str],
    missing_reason: Callable[[spec.Field], str],
    warning: Callable[[str, Any], str],
) -> tuple[Callable[..., tuple[Any, ...]], str]:
    """The compiled build_row and its source; `invalid` is what converters raise, `rejected` what the builder raises,
    `warning(reason, raw)` the message for a malformed optional value."""
    env: dict[str, Any] = {}
    constants: dict[Any, str] = {}
    shapes = read_shape.shapes()
    code = "\n".join(
        _generate(converters, invalid_reason, missing_reason, warning, env, constants, given)
        for given in (None, shapes)
    )
    decoder = msgspec.json.Decoder(shapes[()].struct)
    env.update(_Invalid=invalid, Rejected=rejected, _decode=decoder.decode, _decodes_exactly=read_shape.decodes_exactly)
    env.update(_DECODE_ERRORS=read_shape.DECODE_ERRORS, _NotExact=read_shape.NotExact)
    exec(compile(code, "<xolap.xapi.compiled build_row>", "exec"), env)  # noqa: S102 - code generated from fields.py
    return env["build_row"], code
