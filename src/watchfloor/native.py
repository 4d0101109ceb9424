"""Compiled modules: the per-packet path (capture, decoders, sensor) built with mypyc, and the
guard that uses them only while they match their sources.

`scripts/_setup.sh` builds them into the source tree (`watchfloor native build`) where
a C compiler and Python's headers are found. The code is the same Python, type-checked and
compiled to C: each module runs 1.3-1.7× as fast and gives the same events
(tests/test_native.py). Without a build, or with WATCHFLOOR_NATIVE=0, the sources run.

A build records the digest of every source it compiled (`native.json`). When any of them has
changed since, none of the compiled modules is loaded: they call each other directly, so old
and new code must not mix. A warning then says how to rebuild; results stay correct.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).resolve().parent
STAMP = PACKAGE / "native.json"
# What runs once per packet or event; package __init__ files (registries) are not compiled.
PATTERNS = ("capture/*.py", "decode/**/*.py", "sensor.py", "schema/time.py")


def sources() -> list[Path]:
    found = {p for pattern in PATTERNS for p in PACKAGE.glob(pattern)}
    return sorted(p for p in found if p.name != "__init__.py")


def module_name(path: Path) -> str:
    return ".".join((PACKAGE.name, *path.relative_to(PACKAGE).with_suffix("").parts))


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def _record(paths: Sequence[Path]) -> dict[str, tuple[int, int, str]]:
    """Each source's (size, mtime in ns, digest): on import, the size and time are enough while
    they match (a stat); only a file whose stat changed is read and hashed again."""
    out = {}
    for p in paths:
        st = p.stat()
        out[str(p.relative_to(PACKAGE))] = (st.st_size, st.st_mtime_ns, _digest(p))
    return out


def _stamp() -> dict | None:
    try:
        stamp = json.loads(STAMP.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: stale, so the sources run
    return stamp if isinstance(stamp, dict) else {}


class _Sources:
    """A meta path finder: the listed modules load from their .py files, ahead of any compiled
    build of them."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:  # fmt: skip
        if name not in self.names:
            return None
        from importlib.util import spec_from_file_location

        return spec_from_file_location(name, PACKAGE.joinpath(*name.split(".")[1:]).with_suffix(".py"))


def stale(stamp: dict) -> str | None:
    """Why the build recorded in `stamp` does not fit this interpreter and these sources, or None.
    (A source added since is simply not compiled: it runs as Python, which mixes safely.)"""
    if stamp.get("cache_tag") != sys.implementation.cache_tag:
        return f"they were built for {stamp.get('cache_tag')}, this is {sys.implementation.cache_tag}"
    try:
        for rel, (size, mtime_ns, digest) in stamp["sources"].items():
            path = PACKAGE / rel
            st = path.stat()
            if (st.st_size, st.st_mtime_ns) != (size, mtime_ns) and _digest(path) != digest:
                return "sources changed since they were built"
    except OSError:
        return "sources changed since they were built"
    except (KeyError, TypeError, ValueError, AttributeError):  # an older or damaged record
        return f"{STAMP.name} is not a record this version reads"
    return None


def guard() -> None:
    """Called on `import watchfloor`, before any compiled module can load."""
    stamp = _stamp()
    if stamp is None:
        return  # nothing was built: the sources run
    if os.environ.get("WATCHFLOOR_NATIVE", "1") != "0":
        why = stale(stamp)
        if why is None:
            return
        print(f"watchfloor: not using the compiled modules ({why}): running the Python sources, "
              "1.3-1.7x slower; rebuild with: watchfloor native build", file=sys.stderr)  # fmt: skip
    recorded = stamp.get("sources")
    listed = recorded if isinstance(recorded, dict) else {}
    compiled = {module_name(p) for p in {*sources(), *(PACKAGE / rel for rel in listed)}}
    sys.meta_path.insert(0, _Sources(compiled))


def status() -> str:
    """"in use", "not built", or why a build is not used."""
    stamp = _stamp()
    if stamp is None:
        return "not built"
    from . import sensor

    if not str(sensor.__file__).endswith(".py"):
        return "in use"
    if os.environ.get("WATCHFLOOR_NATIVE", "1") == "0":
        return "built, not used (WATCHFLOOR_NATIVE=0)"
    return f"built, not used: {stale(stamp)}"


def _outputs() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.so") if "__pycache__" not in p.parts]


def clean() -> int:
    """Remove the compiled modules and their record; returns how many files went."""
    gone = _outputs()
    for p in gone:
        p.unlink()
    STAMP.unlink(missing_ok=True)
    return len(gone)


class BuildError(Exception):
    """The compiled modules could not be built (the sources still run)."""


def build(jobs: int = os.cpu_count() or 1, workdir: Path | None = None) -> None:
    """Compile `sources()` in place (C files and objects go to `workdir`), then record them."""
    try:
        from mypyc.build import mypycify  # build-time only: the `native` extra
        from setuptools import setup
    except ImportError as e:
        raise BuildError(f"building needs mypyc and setuptools: pip install 'watchfloor[native]' "
                         f"({e})") from e  # fmt: skip

    paths = sources()
    record = _record(paths)
    workdir = (workdir or PACKAGE.parent.parent / "build" / "native").resolve()
    clean()
    started = time.monotonic()
    print(f"watchfloor: compiling {len(paths)} modules with mypyc ({jobs} jobs) ...", file=sys.stderr)
    here, cache = os.getcwd(), os.environ.get("MYPY_CACHE_DIR")
    os.chdir(PACKAGE.parent)  # setuptools places in-place builds relative to the package's root
    os.environ["MYPY_CACHE_DIR"] = str(workdir / "mypy")  # with the rest of the build, not in src/
    try:
        rel = [str(p.relative_to(PACKAGE.parent)) for p in paths]
        setup(name="watchfloor-native", ext_modules=mypycify(rel, separate=True, target_dir=str(workdir / "c")),
              script_args=["--quiet", "build_ext", "--inplace", "--parallel", str(jobs),
                           "--build-temp", str(workdir / "temp"), "--build-lib", str(workdir / "lib")])  # fmt: skip
    except SystemExit as e:  # how mypyc (type errors) and setuptools (compiler errors) fail
        clean()
        raise BuildError(f"compiling failed ({e}); the messages above say where") from e
    finally:
        os.chdir(here)
        if cache is None:
            os.environ.pop("MYPY_CACHE_DIR", None)
        else:
            os.environ["MYPY_CACHE_DIR"] = cache
    STAMP.write_text(json.dumps({"cache_tag": sys.implementation.cache_tag, "sources": record},
                                indent=1) + "\n")  # fmt: skip
    print(f"watchfloor: compiled {len(paths)} modules in {time.monotonic() - started:.0f} s",
          file=sys.stderr)  # fmt: skip
