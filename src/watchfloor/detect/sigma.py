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


_ABSENT: tuple = ()


class View:
    """One event as rules see it: field lookups (dotted paths or flat keys) memoised per event."""

    __slots__ = ("_fields", "_strings", "event")

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = event
        self._fields: dict[str, tuple] = {}
        self._strings: tuple[str, ...] | None = None

    def values(self, field: str) -> tuple:
        """Every value at `field` (lists flattened); empty when the field is absent or null."""
        got = self._fields.get(field)
        if got is None:
            got = self._fields[field] = tuple(_lookup(self.event, field))
        return got

    def strings(self) -> tuple[str, ...]:
        """Every scalar in the event as text, for keyword search."""
        if self._strings is None:
            self._strings = tuple(_text(v) for v in _leaves(self.event))
        return self._strings


def _lookup(obj: Any, path: str) -> Iterator[Any]:
    if isinstance(obj, Mapping):
        if path in obj:  # flat keys win: Windows and Zeek field names may contain dots
            yield from _flat(obj[path])
            return
        head, dot, rest = path.partition(".")
        while dot:
            if head in obj:
                yield from _lookup(obj[head], rest)
                return
            more, dot, rest = rest.partition(".")
            head = f"{head}.{more}"
    elif isinstance(obj, list):
        for item in obj:
            yield from _lookup(item, path)


def _flat(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for v in value:
            yield from _flat(v)
    elif value is not None:
        yield value


def _leaves(obj: Any) -> Iterator[Any]:
    if isinstance(obj, Mapping):
        for v in obj.values():
            yield from _leaves(v)
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
    return lambda view: any(test(v) for v in view.values(field))


def compile_condition(node: Any) -> Predicate:
    if isinstance(node, ConditionAND):
        parts = [compile_condition(a) for a in node.args]
        return lambda view: all(p(view) for p in parts)
    if isinstance(node, ConditionOR):
        parts = [compile_condition(a) for a in node.args]
        return lambda view: any(p(view) for p in parts)
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


def compile_rule(rule: SigmaRule) -> Predicate:
    """One predicate for the rule: its conditions OR-ed (a rule may list several)."""
    try:
        trees = [c.parse() for c in rule.detection.parsed_condition]
    except Exception as e:  # pySigma raises its own errors for bad conditions
        raise CompileError(f"condition: {e}") from e
    preds = [compile_condition(t) for t in trees]
    if len(preds) == 1:
        return preds[0]
    return lambda view: any(p(view) for p in preds)
