"""The SigmaHQ regression check (bench/sigma_regression.py): SigmaHQ's own positive samples must
fire their rules, unchanged, through our readers, Windows pipeline and engine."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "bench" / "sigma_regression.py"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("sigma_regression", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.corpus
@pytest.mark.parametrize("source", ["evtx", "json"])
def test_sigmahq_regression_samples_fire_their_rules(source: str) -> None:
    if not (CORPUS / "labeled" / "sigma_regression").is_dir() or not (CORPUS / "sigma").is_dir():
        pytest.skip("sigma_regression or SigmaHQ rules not in ../shared/corpus")
    results = _bench().run(CORPUS, source)
    assert len(results) >= 90
    fired = sum(r.fired for r in results)
    assert fired / len(results) >= 0.95, [(r.rule_path, r.cause, r.detail) for r in results if not r.fired]
    for r in results:
        assert r.fired or r.cause in ("rule-load", "no-rule-file", "unreadable", "logsource", "condition")
        assert not r.fired or r.alerts >= 1


@pytest.mark.corpus
def test_a_rule_does_not_fire_on_another_rules_sample() -> None:
    """The check is not trivially true: rules stay quiet on samples made for other rules."""
    if not (CORPUS / "labeled" / "sigma_regression").is_dir():
        pytest.skip("sigma_regression not in ../shared/corpus")
    bench = _bench()
    samples = bench.samples(CORPUS)
    quiet = 0
    pairs = list(zip(samples, samples[1:] + samples[:1]))[:30]
    for (_, rule_id, rule_path), (other, _, _) in pairs:
        r = bench.check(CORPUS, other, rule_id, rule_path)
        quiet += not r.fired
    assert quiet >= 0.8 * len(pairs)
