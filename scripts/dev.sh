#!/usr/bin/env bash
# One entry point for a fresh machine: installs whatever is missing, then acts.
#   bash scripts/dev.sh app [CLIP] [--bundle B]   launch L2I Desktop
#   bash scripts/dev.sh test [PYTEST ARGS]        run the whole test suite
#   bash scripts/dev.sh setup                     only install (and say how to run l2i)
# With no command it prints this usage and installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${L2I_VENV:-.venv}
PY=${PYTHON:-python3}
SYSTEM_PACKAGES=(libportaudio2 libsndfile1 pulseaudio pulseaudio-utils libasound2-plugins
  xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libegl1 libgl1
  libfontconfig1 libdbus-1-3 chromium)

install_system() {
  local missing=()
  for p in "${SYSTEM_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Please install with your package manager: ${missing[*]}" >&2
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "Not root: please run  sudo apt-get install ${missing[*]}" >&2
      return 0
    fi
  fi
  echo "Installing system packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

install_python() {
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  local stamp="$VENV/.installed"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    # the tests use every extra: hf (transformers) for the Hugging Face models
    "$VENV/bin/python" -m pip install -q -e '.[test,hf]'
    touch "$stamp"
  fi
}

usage() {
  cat >&2 <<EOF
usage: bash scripts/dev.sh COMMAND [ARGS]
  setup                        install what is missing (apt packages, .venv), then stop
  app [CLIP] [--bundle B]      launch L2I Desktop
  test [PYTEST ARGS]           ruff and the whole test suite (13-23 minutes)
EOF
}

cmd=${1:-}
case "$cmd" in
  setup|app|test) ;;
  -h|--help) usage; exit 0 ;;
  *) usage; exit 2 ;;
esac
shift
install_system
install_python
case "$cmd" in
  setup)
    cat <<EOF
Set up. The commands live in $VENV/bin: run them as $VENV/bin/l2i and
$VENV/bin/l2i-desktop, or first  source $VENV/bin/activate  (then l2i, l2i-desktop).
EOF
    ;;
  app)
    if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
      echo "No display found: starting on a virtual screen (Xvfb)." >&2
      exec xvfb-run -a "$VENV/bin/l2i-desktop" "$@"
    fi
    exec "$VENV/bin/l2i-desktop" "$@"
    ;;
  test)
    export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
    "$VENV/bin/ruff" check engine trainer l2i_desktop resources tests scripts
    exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
    ;;
esac
