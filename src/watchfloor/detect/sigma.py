"""Sigma detections compiled to Python predicates over events.

pySigma parses and validates a rule and applies its modifiers; what reaches us is a condition tree
(AND / OR / NOT over field = value and keyword leaves) whose values are already typed: wildcard
strings, numbers, regular expressions, CIDR ranges, comparisons, field references, existence
checks and expansions (base64offset, windash). Each leaf becomes one closure; the tree becomes
`all` / `any` / `not` over them. Matching follows the Sigma specification: strings compare
case-insensitively unless `cased`, a list-valued field matches when any element does, `null`
matches an absent or empty field, keywords search every string in the event.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import msgspec
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)


class CompileError(ValueError):
    """A rule uses something that cannot be evaluated in process (e.g. an unresolved placeholder)."""


ORIGINAL = "event.original."


class View:
    """One event as rules see it: field lookups (dotted paths or flat keys) memoised per event."""

    __slots__ = ("_fields", "_strings", "event")

    def __init__(self, event: Mapping[str, Any] | msgspec.Struct) -> None:
        self.event = event
        self._fields: dict[str, tuple] = {}
        self._strings: tuple[str, ...] | None = None

    def values(self, field: str) -> tuple:
        """Every value at `field` (lists flattened); empty when the field is absent or null."""
        got = self._fields.get(field)
        if got is None:
            found: list[Any] = []
            if field.startswith(ORIGINAL):
                _collect(self._original(), field[len(ORIGINAL):], found)
            else:
                _collect(self.event, field, found)
            got = self._fields[field] = tuple(found)
        return got

    def _original(self) -> Any:
        """The event's original record (`event.original`) decoded, when it is JSON: rules
        written for a log's own field names (CloudTrail, Azure) address it as
        `event.original.<path>`. Decoded once per event, only when a rule asks."""
        got = self._fields.get(ORIGINAL)
        if got is None:
            found: list[Any] = []
            _collect(self.event, "event.original", found)
            doc = None
            if found and isinstance(found[0], str) and found[0][:1] == "{":
                try:
                    doc = msgspec.json.decode(found[0])
                except msgspec.DecodeError:
                    doc = None
            got = self._fields[ORIGINAL] = (doc,)
        return got[0]

    def strings(self) -> tuple[str, ...]:
        """Every scalar in the event as text, for keyword search."""
        if self._strings is None:
            self._strings = tuple(_text(v) for v in _leaves(self.event))
        return self._strings


_NAMES: dict[type, dict[str, str] | None] = {}  # per class: JSON name → attribute, None: no Struct
_MISSING = object()


def _names(cls: type) -> dict[str, str] | None:
    """JSON name → attribute of a schema Struct (they differ for renamed fields: `@timestamp`)."""
    try:
        return _NAMES[cls]
    except KeyError:
        names = None
        if issubclass(cls, msgspec.Struct):
            names = {f.encode_name: f.name for f in msgspec.structs.fields(cls)}
        _NAMES[cls] = names
        return names


def _child(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, _MISSING)
    return _MISSING


_PATHS: dict[str, list[str]] = {}


def _collect(obj: Any, path: str, out: list[Any]) -> None:
    """Append the values at a dotted path of JSON-shaped data or of schema Structs (events need
    not be converted to dicts to be matched). In JSON data a key holding the whole path wins:
    Windows and Zeek field names may contain dots. Struct field names never do, so a Struct is
    walked one attribute per step."""
    cls = type(obj)
    names = _NAMES[cls] if cls in _NAMES else _names(cls)
    if names is not None:
        parts = _PATHS.get(path)
        if parts is None:
            parts = _PATHS[path] = path.split(".")
        for i, part in enumerate(parts, 1):
            assert names is not None  # a non-Struct before the last step returned below
            name = names.get(part)
            if name is None:
                return
            obj = getattr(obj, name)
            if obj is None:
                return
            cls = type(obj)
            names = _NAMES[cls] if cls in _NAMES else _names(cls)
            if names is None and i < len(parts):  # a list or a dict below the Struct
                _collect(obj, ".".join(parts[i:]), out)
                return
        _flat(obj, out)
        return
    if type(obj) is list:
        for item in obj:
            _collect(item, path, out)
        return
    value = _child(obj, path)
    if value is not _MISSING:
        _flat(value, out)
        return
    head, dot, rest = path.partition(".")
    while dot:
        value = _child(obj, head)
        if value is not _MISSING:
            if value is not None:
                _collect(value, rest, out)
            return
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"


def _flat(value: Any, out: list[Any]) -> None:
    if type(value) is list:
        for v in value:
            _flat(v, out)
    elif value is not None:
        out.append(value)


def _leaves(obj: Any) -> Iterator[Any]:
    if isinstance(obj, Mapping):
        for v in obj.values():
            yield from _leaves(v)
    elif isinstance(obj, msgspec.Struct):
        for name in obj.__struct_fields__:
            yield from _leaves(getattr(obj, name))
    elif isinstance(obj, list):
        for v in obj:
            yield from _leaves(v)
    elif obj is not None:
        yield obj


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            try:
                return int(value.strip(), 0)
            except ValueError:
                return None
    return None


# -- values: each becomes a test of one scalar ----------------------------------------------------

Test = Callable[[Any], bool]


def string_test(value: SigmaString) -> Test:
    """Equality, prefix, suffix or substring when the wildcards allow, else an anchored regex."""
    if value.contains_placeholder():
        raise CompileError(f"unresolved placeholder in {str(value)!r}")
    cased = isinstance(value, SigmaCasedString)
    fold: Callable[[str], str] = (lambda s: s) if cased else str.lower
    texts = [fold(p) for p in value.s if isinstance(p, str)]
    # The string's shape: "s" for literal text, "*" and "?" for the wildcards.
    kinds = [
        "s" if isinstance(p, str) else "*" if p is SpecialChars.WILDCARD_MULTI else "?"
        for p in value.s
    ]
    if kinds == ["s"] or not kinds:
        want = texts[0] if texts else ""
        return lambda v: fold(_text(v)) == want
    if kinds == ["s", "*"]:
        prefix = texts[0]
        return lambda v: fold(_text(v)).startswith(prefix)
    if kinds == ["*", "s"]:
        suffix = texts[0]
        return lambda v: fold(_text(v)).endswith(suffix)
    if kinds == ["*", "s", "*"]:
        needle = texts[0]
        return lambda v: needle in fold(_text(v))
    pattern = "".join(
        re.escape(p) if isinstance(p, str) else ".*" if p is SpecialChars.WILDCARD_MULTI else "."
        for p in value.s
    )
    rx = re.compile(pattern, re.DOTALL | (0 if cased else re.IGNORECASE))
    return lambda v: rx.fullmatch(_text(v)) is not None


_COMPARE = {
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
    CompareOperators.NEQ: operator.ne,
}


def value_test(value: Any) -> Test:
    if isinstance(value, SigmaString):
        return string_test(value)
    if isinstance(value, SigmaBool):
        want_bool = bool(value)
        return lambda v: (
            v is want_bool or (isinstance(v, str) and v.lower() == str(want_bool).lower())
        )
    if isinstance(value, SigmaNumber):
        want, text = value.number, str(value.number)
        return lambda v: (
            (_number(v) == want)
            if not isinstance(v, str)
            else (v.strip() == text or _number(v) == want)
        )
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= SigmaRegularExpression.sigma_to_python_flags[flag]
        try:
            rx = re.compile(str(value.regexp), flags)
        except re.error as e:
            raise CompileError(f"regular expression {str(value.regexp)!r}: {e}") from e
        return lambda v: rx.search(_text(v)) is not None
    if isinstance(value, SigmaCIDRExpression):
        net = value.network

        def in_network(v: Any) -> bool:
            try:
                return ipaddress.ip_address(_text(v).strip()) in net
            except ValueError:
                return False

        return in_network
    if isinstance(value, SigmaCompareExpression):
        op, bound = _COMPARE[value.op], value.number.number

        def compare(v: Any) -> bool:
            n = _number(v)
            return n is not None and op(n, bound)

        return compare
    if isinstance(value, SigmaExpansion):
        tests = [value_test(v) for v in value.values]
        return lambda v: any(t(v) for t in tests)
    raise CompileError(f"unsupported value type {type(value).__name__}")


# -- conditions -----------------------------------------------------------------------------------

Predicate = Callable[[View], bool]


def _field_predicate(field: str, value: Any) -> Predicate:
    if isinstance(value, SigmaNull):
        return lambda view: not any(_text(v) != "" for v in view.values(field))
    if isinstance(value, SigmaExists):
        want = bool(value)
        return lambda view: bool(view.values(field)) is want
    if isinstance(value, SigmaFieldReference):
        other, starts, ends = value.field, value.starts_with, value.ends_with

        def same(view: View) -> bool:
            mine = [_text(v).lower() for v in view.values(field)]
            for o in view.values(other):
                o = _text(o).lower()
                for m in mine:
                    if m.startswith(o) if starts else m.endswith(o) if ends else m == o:
                        return True
            return False

        return same
    try:
        test = value_test(value)
    except CompileError as e:
        raise CompileError(f"{field}: {e}") from e

    def match(view: View) -> bool:
        for v in view.values(field):
            if test(v):
                return True
        return False

    return match


def compile_condition(node: Any) -> Predicate:
    if isinstance(node, ConditionAND):
        parts = [compile_condition(a) for a in node.args]
        if len(parts) == 2:
            a, b = parts
            return lambda view: a(view) and b(view)

        def every(view: View) -> bool:
            for p in parts:
                if not p(view):
                    return False
            return True

        return every
    if isinstance(node, ConditionOR):
        parts = [compile_condition(a) for a in node.args]
        if len(parts) == 2:
            a, b = parts
            return lambda view: a(view) or b(view)

        def some(view: View) -> bool:
            for p in parts:
                if p(view):
                    return True
            return False

        return some
    if isinstance(node, ConditionNOT):
        inner = compile_condition(node.args[0])
        return lambda view: not inner(view)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _field_predicate(node.field, node.value)
    if isinstance(node, ConditionValueExpression):  # keyword: full-text search of the event
        value = node.value
        if isinstance(value, SigmaString) and all(isinstance(p, str) for p in value.s):
            value = SigmaString(f"*{value}*") if str(value) else value  # a plain keyword is a term
        test = value_test(value)
        return lambda view: any(test(s) for s in view.strings())
    raise CompileError(f"unsupported condition element {type(node).__name__}")


# -- necessary equalities: what an event must hold for a rule to have a chance ---------------------
#
# A requirement is (field, keys): at least one value of `field` must have one of `keys`. Keys are
# ("s", lower-cased text) for plain strings and ("n", number) for numbers, built from event values
# by `value_keys` exactly as `string_test` and `value_test` compare them, so the prefilter never
# drops an event the predicate would match. Only plain equalities make requirements; everything
# else (wildcards, regexes, NOT, ...) is left to the predicate.

Requirement = tuple[str, frozenset[tuple[str, Any]]]


def _equality_keys(value: Any) -> frozenset[tuple[str, Any]] | None:
    if isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString):
        if all(isinstance(p, str) for p in value.s) and not value.contains_placeholder():
            return frozenset({("s", "".join(value.s).lower())})  # type: ignore[arg-type]
    elif isinstance(value, SigmaNumber):
        return frozenset({("n", value.number)})
    return None


def requirements(node: Any) -> list[Requirement]:
    """Necessary equalities of a condition tree (possibly none)."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        keys = _equality_keys(node.value)
        return [(node.field, keys)] if keys is not None else []
    if isinstance(node, ConditionAND):
        return [r for a in node.args for r in requirements(a)]
    if isinstance(node, ConditionOR):  # a value list: every branch an equality on one field
        branches = [requirements(a) for a in node.args]
        if all(len(b) == 1 for b in branches) and len({b[0][0] for b in branches}) == 1:
            return [(branches[0][0][0], frozenset().union(*(b[0][1] for b in branches)))]
    return []


def value_keys(value: Any, kinds: str = "sn") -> list[tuple[str, Any]]:
    """The keys an event value can meet a requirement with (see `requirements`); `kinds` limits
    them to text ("s") or numbers ("n") when only those are asked for."""
    keys: list[tuple[str, Any]] = [("s", _text(value).lower())] if "s" in kinds else []
    if "n" in kinds:
        n = _number(value)
        if n is not None:
            keys.append(("n", n))
    return keys


def compile_rule(rule: SigmaRule) -> tuple[Predicate, list[Requirement]]:
    """The rule's predicate (its conditions OR-ed) and the equalities any match must hold."""
    try:
        trees = [c.parse() for c in rule.detection.parsed_condition]
    except Exception as e:  # pySigma raises its own errors for bad conditions
        raise CompileError(f"condition: {e}") from e
    preds = [compile_condition(t) for t in trees]
    if len(preds) == 1:
        return preds[0], requirements(trees[0])
    return (lambda view: any(p(view) for p in preds)), []
