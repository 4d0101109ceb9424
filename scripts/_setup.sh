# Shared by scripts/demo and scripts/test: a virtual environment and the system tools, or a precise
# message saying what is missing. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${WATCHFLOOR_VENV:-$ROOT/.venv}"

need_system() {  # need_system CMD DEBIAN-PACKAGE ...: install missing tools as root, else explain
    local missing=() cmd pkg
    while [ $# -gt 0 ]; do
        cmd=$1 pkg=$2; shift 2
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    apt_install "${missing[@]}" && return 0
    echo "watchfloor: missing system packages: ${missing[*]}" >&2
    echo "           install them with: sudo apt-get install ${missing[*]}" >&2
    return 1
}

apt_install() {  # apt_install PACKAGE ...: only as root on a Debian-like system
    [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
    echo "watchfloor: installing $* (apt-get)" >&2
    apt-get update -qq >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

need_venv() {  # need_venv EXTRAS: create the venv and install the project (editable) into it
    local python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "watchfloor: needs Python >= 3.11 (found: $("$python" --version 2>&1))" >&2
        return 1
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        if ! "$python" -m venv "$VENV" >/dev/null 2>&1; then
            rm -rf "$VENV"  # Debian ships venv separately
            apt_install python3-venv || true
            "$python" -m venv "$VENV" || {
                echo "watchfloor: cannot create a virtual environment; install python3-venv" >&2
                return 1
            }
        fi
    fi
    # pip's output goes to a log, shown only if the install fails
    if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$ROOT$1" \
            >"$VENV/pip-install.log" 2>&1; then
        tail -n 30 "$VENV/pip-install.log" >&2
        echo "watchfloor: installing the project failed (full log: $VENV/pip-install.log)" >&2
        return 1
    fi
    # an editable install ships no bytecode: compile it once, so no command recompiles the
    # project at start-up (read even where PYTHONDONTWRITEBYTECODE forbids writing it)
    "$VENV/bin/python" -m compileall -q "$ROOT/src" >/dev/null || true
}

need_native() {  # compile the per-packet modules (src/watchfloor/native.py) unless up to date
    [ "${WATCHFLOOR_NATIVE:-1}" = "0" ] && return 0
    local log="$VENV/native-build.log" headers='import os, sys, sysconfig
sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'
    if ! command -v cc >/dev/null 2>&1 || ! "$VENV/bin/python" -c "$headers"; then
        apt_install gcc python3-dev || true
    fi
    if [ "$("$VENV/bin/watchfloor" native status 2>/dev/null)" != "compiled modules: in use" ]; then
        echo "watchfloor: compiling the per-packet modules with mypyc (about 3 minutes on 2 cores" \
             "the first time; only changed modules after that)" >&2
    fi
    if ! "$VENV/bin/watchfloor" native build >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        echo "watchfloor: compiling failed (full log: $log); the Python sources run instead," \
             "1.3-1.7x slower" >&2
        [ -z "${CI:-}" ]  # CI must test the compiled modules
    fi
}
