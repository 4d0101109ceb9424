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
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from .sigma import CompileError, Predicate, View, compile_rule

RULE_SUFFIXES = (".yml", ".yaml")
LogSourceKey = tuple[str | None, str | None, str | None]  # category, product, service


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    level: str | None
    tags: tuple[str, ...]
    description: str | None
    path: str
    logsource: LogSourceKey
    predicate: Predicate = field(repr=False, compare=False)

    def matches(self, view: View) -> bool:
        return self.predicate(view)


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


def load(
    paths: Iterable[str | Path],
    pipeline: ProcessingPipeline | None = None,
    progress: Callable[[Path], None] | None = None,
) -> tuple[list[Rule], list[LoadFailure]]:
    """Parse, validate (pySigma), map fields (`pipeline`) and compile every rule in `paths`.

    A file or rule that fails is reported with its path and reason and skipped; `progress` is
    called after each file."""
    rules: list[Rule] = []
    failures: list[LoadFailure] = []
    for path in rule_files(paths):
        if progress is not None:
            progress(path)
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
            collection = SigmaCollection.from_yaml(text, collect_errors=True)
        except (OSError, UnicodeDecodeError, SigmaError, ValueError, yaml.YAMLError) as e:
            failures.append(LoadFailure(name, _reason(e)))
            continue
        except Exception as e:  # noqa: BLE001 -- pySigma fails on odd documents (a bare string, a list) with
            # whatever exception its code meets; one bad file must never stop the others.
            failures.append(LoadFailure(name, f"not a Sigma rule document ({_reason(e)})"))
            continue
        for item in collection.rules:
            if not isinstance(item, SigmaRule):
                failures.append(LoadFailure(name, f"{type(item).__name__} not supported yet"))
                continue
            if item.errors:
                failures.append(LoadFailure(name, _reason(item.errors[0])))
                continue
            try:
                if pipeline is not None:
                    pipeline.apply(item)
                predicate = compile_rule(item)
            except (CompileError, SigmaError) as e:
                failures.append(LoadFailure(name, _reason(e)))
                continue
            ls = item.logsource
            rules.append(
                Rule(
                    id=str(item.id) if item.id else f"{path.stem}",
                    title=item.title,
                    level=item.level.name.lower() if item.level else None,
                    tags=tuple(f"{t.namespace}.{t.name}" for t in item.tags),
                    description=item.description,
                    path=name,
                    logsource=(ls.category, ls.product, ls.service),
                    predicate=predicate,
                )
            )
    return rules, failures


class RuleIndex:
    """Rules by log source; `candidates` gives the rules an event of a log source can meet."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self._by_key: dict[LogSourceKey, list[Rule]] = {}
        for rule in self.rules:
            self._by_key.setdefault(rule.logsource, []).append(rule)
        self._cache: dict[tuple, tuple[Rule, ...]] = {}

    def candidates(
        self, categories: Iterable[str], product: str | None, services: Iterable[str]
    ) -> tuple[Rule, ...]:
        key = (tuple(categories), product, tuple(services))
        found = self._cache.get(key)
        if found is None:
            seen: dict[int, Rule] = {}
            for k in itertools.product((None, *key[0]), (None, product), (None, *key[2])):
                for rule in self._by_key.get(k, ()):
                    seen.setdefault(id(rule), rule)
            found = self._cache[key] = tuple(seen.values())
        return found

    def match(
        self,
        event: Mapping[str, Any],
        categories: Iterable[str],
        product: str | None,
        services: Iterable[str],
    ) -> list[Rule]:
        view = View(event)
        return [r for r in self.candidates(categories, product, services) if r.predicate(view)]


def event_logsource(
    protocol: str | None, categories: Sequence[str] = ()
) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    """(categories, product, services) of an event: an OT event (one with `ot.protocol`) is
    product `ot` with services = its protocol and `action` (the protocol-neutral view)."""
    if protocol:
        return (), "ot", (protocol, "action")
    return tuple(categories), None, ()
