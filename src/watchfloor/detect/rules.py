"""Sigma rule files → compiled rules indexed by log source; load failures reported, never fatal.

A rule meets only the events of its log source. An event's log source is a set of categories, a
product and a set of services (an OT event: product `ot`, services = its protocol and `action`,
the protocol-neutral view); a rule field left out of its `logsource` matches anything. The index
maps each (category, product, service) triple, with None for "any", to its rules, so finding the
candidates for an event is at most eight dictionary lookups whatever the number of rules.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from .correlate import Correlation, CorrelationError
from .correlate import from_sigma as correlation_from_sigma
from .record import RuleInfo
from .sigma import CompileError, Predicate, Requirement, View, compile_rule, value_keys

RULE_SUFFIXES = (".yml", ".yaml")
LogSourceKey = tuple[str | None, str | None, str | None]  # category, product, service


@dataclass(frozen=True, slots=True)
class Rule(RuleInfo):
    logsource: LogSourceKey
    predicate: Predicate = field(repr=False, compare=False)
    requires: tuple[Requirement, ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class LoadFailure:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def rule_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every rule file under the given files and folders, sorted, hidden folders skipped."""
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(
                f
                for f in p.rglob("*")
                if f.suffix in RULE_SUFFIXES
                and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        else:
            yield p


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    correlations: list[Correlation] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)

    @property
    def signals(self) -> set[str]:
        """Rules whose matches only feed correlations (no correlation on them says `generate`)."""
        referenced = {r for c in self.correlations for r in c.rules}
        generating = {r for c in self.correlations if c.generate for r in c.rules}
        return referenced - generating


def load(
    paths: Iterable[str | Path],
    pipeline: ProcessingPipeline | None = None,
    progress: Callable[[Path], None] | None = None,
) -> RuleSet:
    """Parse, validate (pySigma), map fields (`pipeline`) and compile every rule in `paths`, and
    resolve the correlation rules' references across all of them.

    A file or rule that fails is reported with its path and reason and skipped; `progress` is
    called after each file."""
    out = RuleSet()
    parsed: list[tuple[SigmaRule | SigmaCorrelationRule, str]] = []
    ours: dict[int, str] = {}  # id(SigmaRule) → our rule id, for correlation references
    for path in rule_files(paths):
        if progress is not None:
            progress(path)
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
            # References between rules are resolved once every file is read (see below).
            collection = SigmaCollection.from_yaml(
                text, collect_errors=True, resolve_references=False
            )
        except (OSError, UnicodeDecodeError, SigmaError, ValueError, yaml.YAMLError) as e:
            out.failures.append(LoadFailure(name, _reason(e)))
            continue
        except Exception as e:  # noqa: BLE001 -- pySigma fails on odd documents (a bare string, a list) with
            # whatever exception its code meets; one bad file must never stop the others.
            out.failures.append(LoadFailure(name, f"not a Sigma rule document ({_reason(e)})"))
            continue
        for item in collection.rules:
            if getattr(item, "errors", None):
                out.failures.append(LoadFailure(name, _reason(item.errors[0])))
                continue
            if isinstance(item, SigmaCorrelationRule):
                parsed.append((item, name))
                continue
            if not isinstance(item, SigmaRule):
                out.failures.append(LoadFailure(name, f"{type(item).__name__} not supported yet"))
                continue
            try:
                if pipeline is not None:
                    pipeline.apply(item)
                predicate, requires = compile_rule(item)
            except (CompileError, SigmaError) as e:
                out.failures.append(LoadFailure(name, _reason(e)))
                continue
            parsed.append((item, name))
            ls = item.logsource
            rule = Rule(
                **RuleInfo.fields(item, name, path.stem),
                logsource=(ls.category, ls.product, ls.service),
                predicate=predicate,
                requires=tuple(requires),
            )
            ours[id(item)] = rule.id
            out.rules.append(rule)
    correlations = [(item, name) for item, name in parsed if isinstance(item, SigmaCorrelationRule)]
    if correlations:
        everything = SigmaCollection([item for item, _ in parsed], resolve_references=False)
        for item, name in correlations:
            try:
                item.resolve_rule_references(everything)
                out.correlations.append(correlation_from_sigma(item, name, ours))
            except (SigmaError, CorrelationError) as e:
                out.failures.append(LoadFailure(name, _reason(e)))
    return out


class _Plan:
    """How to find, among the rules of one log source, those an event can match: each rule with
    requirements is filed under one of them (its anchor), so an event only
    meets the rules whose anchor key it holds; rules without requirements always run."""

    __slots__ = ("anchors", "free", "kinds", "order")

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.order = {id(r): i for i, r in enumerate(rules)}
        self.kinds: dict[str, str] = {}  # per field: the key kinds ("s", "n") requirements use
        for rule in rules:
            for fieldname, keys in rule.requires:
                have = self.kinds.get(fieldname, "")
                self.kinds[fieldname] = "".join(sorted(set(have) | {kind for kind, _ in keys}))
        self.free = [r for r in rules if not r.requires]
        self.anchors: dict[str, dict[tuple[str, Any], list[Rule]]] = {}
        for rule in rules:
            if rule.requires:
                # The deepest path (ot.modbus.subfunction says more than ot.role), then the fewest keys.
                fieldname, keys = min(
                    rule.requires, key=lambda req: (-req[0].count("."), len(req[1]))
                )
                by_key = self.anchors.setdefault(fieldname, {})
                for k in keys:
                    by_key.setdefault(k, []).append(rule)

    def match(self, view: View) -> list[Rule]:
        held: dict[str, set[tuple[str, Any]]] = {}

        def keys(fieldname: str) -> set[tuple[str, Any]]:
            got = held.get(fieldname)
            if got is None:
                kinds = self.kinds[fieldname]
                got = held[fieldname] = {
                    k for v in view.values(fieldname) for k in value_keys(v, kinds)
                }
            return got

        chosen: dict[int, Rule] = {}
        for fieldname, by_key in self.anchors.items():
            if not view.values(fieldname):  # most anchored fields are absent from most events
                continue
            for k in keys(fieldname):
                for rule in by_key.get(k, ()):
                    chosen[id(rule)] = rule
        out = [r for r in self.free if r.predicate(view)]
        for rule in chosen.values():
            if all(not keys(f).isdisjoint(ks) for f, ks in rule.requires) and rule.predicate(view):
                out.append(rule)
        if len(out) > 1:
            order = self.order
            out.sort(key=lambda r: order[id(r)])  # the rules' order, whatever the lookups did
        return out


class RuleIndex:
    """Rules by log source; `match` finds the rules an event of a log source matches.

    Two levels: the log source picks the rules an event can meet (`candidates`, at most eight
    dictionary lookups), then each rule's necessary equalities (see `sigma.requirements`) pick
    those worth evaluating, so cost grows with the rules that could match, not with the pack."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self._by_key: dict[LogSourceKey, list[Rule]] = {}
        for rule in self.rules:
            self._by_key.setdefault(rule.logsource, []).append(rule)
        self._cache: dict[tuple, tuple[tuple[Rule, ...], _Plan]] = {}

    def _plan(self, categories: Iterable[str], product: str | None,
              services: Iterable[str]) -> tuple[tuple[Rule, ...], _Plan]:  # fmt: skip
        key = (tuple(categories), product, tuple(services))
        found = self._cache.get(key)
        if found is None:
            seen: dict[int, Rule] = {}
            for k in itertools.product((None, *key[0]), (None, product), (None, *key[2])):
                for rule in self._by_key.get(k, ()):
                    seen.setdefault(id(rule), rule)
            rules = tuple(seen.values())
            found = self._cache[key] = (rules, _Plan(rules))
        return found

    def candidates(self, categories: Iterable[str], product: str | None,
                   services: Iterable[str]) -> tuple[Rule, ...]:  # fmt: skip
        """The rules of an event's log source."""
        return self._plan(categories, product, services)[0]

    def match_view(self, view: View, categories: Iterable[str], product: str | None,
                   services: Iterable[str]) -> list[Rule]:  # fmt: skip
        rules, plan = self._plan(categories, product, services)
        return plan.match(view) if rules else []

    def match(self, event: Mapping[str, Any], categories: Iterable[str], product: str | None,
              services: Iterable[str]) -> list[Rule]:  # fmt: skip
        return self.match_view(View(event), categories, product, services)


def event_logsource(
    protocol: str | None, categories: Sequence[str] = (), winlog: Any = None
) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    """(categories, product, services) of an event: an OT event (one with `ot.protocol`) is
    product `ot` with services = its protocol and `action` (the protocol-neutral view); a Windows
    event (one with `winlog`) is product `windows` with its channel's service and the Sigma
    categories of its event id (see `windows.logsource`)."""
    if protocol:
        return (), "ot", (protocol, "action")
    if winlog:
        from .windows import logsource

        sigma_categories, product, services = logsource(winlog)
        return (*sigma_categories, *categories), product, services
    return tuple(categories), None, ()
