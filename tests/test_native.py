"""The compiled per-packet modules (watchfloor/native.py): they give exactly the events the Python
sources give, and a build that no longer matches its sources is never loaded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from watchfloor import native

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus"
SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz")

# Decodes every capture listed on stdin (all events: messages, anomalies, observations) and
# prints one digest of the JSON lines per capture, or of the error a damaged one ends with.
DIGESTS = """
import hashlib, sys
from watchfloor import native
from watchfloor.capture.files import CaptureError
from watchfloor.sensor import decode_jsonl
print(native.status())
for path in sys.stdin.read().splitlines():
    h = hashlib.blake2b(digest_size=16)
    try:
        for chunk in decode_jsonl(path, workers=1):
            h.update(chunk)
    except CaptureError as e:
        h.update(str(e).encode())
    print(path, h.hexdigest())
"""


def _captures() -> list[Path]:
    roots = [HERE / "captures", CORPUS]
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*")
                  if p.is_file() and p.name.endswith(SUFFIXES))  # fmt: skip


def _digests(captures: list[Path], *, compiled: bool) -> tuple[str, list[str]]:
    env = {**os.environ, "WATCHFLOOR_NATIVE": "1" if compiled else "0"}
    proc = subprocess.run([sys.executable, "-c", DIGESTS], input="\n".join(map(str, captures)),
                          env=env, capture_output=True, text=True, timeout=1200, check=True)  # fmt: skip
    status, *lines = proc.stdout.splitlines()
    return status, lines


@pytest.mark.skipif(native.status() != "in use", reason="the compiled modules are not built "
                    "(scripts/test builds them: `watchfloor native build`)")  # fmt: skip
def test_compiled_and_sources_give_the_same_events() -> None:
    """Every capture of the project and of ../shared/corpus (when present), decoded by both."""
    captures = _captures()
    assert len(captures) > 50
    status, compiled = _digests(captures, compiled=True)
    assert status == "in use"
    status, sources = _digests(captures, compiled=False)
    assert status.startswith("built, not used")
    assert len(compiled) == len(captures)
    assert [c for c, s in zip(compiled, sources) if c != s] == []


def test_changed_sources_set_the_build_aside(tmp_path: Path) -> None:
    """A record that no longer fits the sources or the interpreter: stale, with the reason. A
    source whose time changed but not its bytes (a checkout, a touch) still fits."""
    record = native._record(native.sources())
    stamp = {"cache_tag": sys.implementation.cache_tag, "sources": record}
    assert native.stale(stamp) is None
    assert "built for cpython-27" in str(native.stale({**stamp, "cache_tag": "cpython-27"}))
    size, mtime_ns, digest = record["sensor.py"]
    touched = {**record, "sensor.py": (size, mtime_ns - 1, digest)}
    assert native.stale({**stamp, "sources": touched}) is None
    edited = {**record, "sensor.py": (size, mtime_ns - 1, "0" * 32)}
    assert native.stale({**stamp, "sources": edited}) == "sources changed since they were built"
    gone = {**record, "gone.py": (1, 1, "0" * 32)}
    assert native.stale({**stamp, "sources": gone}) == "sources changed since they were built"
    for damaged in ({"cache_tag": stamp["cache_tag"]}, {**stamp, "sources": {"sensor.py": 1}}):
        assert native.stale(damaged) == "native.json is not a record this version reads"


PROBE = ("import json, watchfloor.sensor, watchfloor.decode.goose.session as g, "
         "watchfloor.capture.flows as f; print(json.dumps([m.__file__ for m in "
         "(watchfloor.sensor, g, f)]))")  # fmt: skip


def _loaded(package_root: Path, **env: str) -> tuple[list[str], str]:
    run_env = {**os.environ, "PYTHONPATH": str(package_root), **env}
    proc = subprocess.run([sys.executable, "-c", PROBE], env=run_env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return json.loads(proc.stdout), proc.stderr


def test_sources_run_when_asked() -> None:
    files, _ = _loaded(native.PACKAGE.parent, WATCHFLOOR_NATIVE="0")
    assert all(f.endswith(".py") for f in files)


@pytest.mark.skipif(native.status() != "in use", reason="the compiled modules are not built")
def test_a_stale_build_is_not_loaded(tmp_path: Path) -> None:
    """A copy of the built package: loaded compiled; once one source changes, from sources, and
    the user is told why and how to rebuild."""
    copy = tmp_path / "watchfloor"
    shutil.copytree(native.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    files, err = _loaded(tmp_path)
    assert all(f.startswith(str(copy)) and not f.endswith(".py") for f in files), files
    with open(copy / "decode" / "goose" / "wire.py", "a") as f:
        f.write("# an edit after the build\n")
    files, err = _loaded(tmp_path)
    assert all(f.startswith(str(copy)) and f.endswith(".py") for f in files), files
    assert "not using the compiled modules (sources changed since they were built)" in err
    assert "watchfloor native build" in err


def test_every_compiled_module_is_a_source_of_the_package() -> None:
    names = {native.module_name(p) for p in native.sources()}
    assert {"watchfloor.sensor", "watchfloor.capture.flows", "watchfloor.decode.bacnet.tags",
            "watchfloor.schema.time"} <= names  # fmt: skip
    assert not any(n.endswith("__init__") for n in names)
