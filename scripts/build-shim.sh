#!/usr/bin/env bash
# Builds the C shim over libtorch (shim/ctorch.cpp) into .deps/lib/libctorch.so.
# libtorch comes from the torch wheel in .deps/venv (scripts/setup.sh), or from LIBTORCH=DIR, a folder with
# include/ and lib/ (for example a GPU machine's: LIBTORCH=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')).
# Rebuilds only when the sources or the libtorch changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
deps="${VIDTAG_DEPS:-$root/.deps}"
out_dir="${SHIM_OUT:-$deps/lib}"
out="$out_dir/libctorch.so"

if [ -n "${LIBTORCH:-}" ]; then
  torch_dir="$LIBTORCH"
else
  py="$deps/venv/bin/python"
  [ -x "$py" ] || { echo "build-shim: $py not found: run scripts/setup.sh first (or set LIBTORCH=DIR)" >&2; exit 1; }
  torch_dir="$(ls -d "$deps"/venv/lib/python3*/site-packages/torch | head -n 1)"
fi
[ -f "$torch_dir/include/torch/csrc/api/include/torch/version.h" ] || { echo "build-shim: no libtorch headers under $torch_dir/include" >&2; exit 1; }

# Link libtorch.so (not only torch_cpu) when it does not drag in a CUDA stack we cannot load (PyPI's CUDA
# wheel used for CPU): with it, a CUDA libtorch registers its CUDA kernels.
link_torch="-ltorch"
if [ -z "${LIBTORCH:-}" ] && [ -f "$torch_dir/lib/libtorch_cuda.so" ] && ! ls "$torch_dir"/../nvidia/cublas >/dev/null 2>&1; then
  link_torch=""
fi

key="$(cat "$root/shim/ctorch.cpp" "$root/shim/ctorch.h" "$0" | sha1sum | cut -c1-16)-$(cat "$torch_dir/include/torch/csrc/api/include/torch/version.h" | sha1sum | cut -c1-8)-$torch_dir"
if [ -f "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
  exit 0
fi
mkdir -p "$out_dir"
std="-std=c++20"
echo "build-shim: compiling shim/ctorch.cpp against $torch_dir"
g++ $std -O2 -fPIC -shared -fvisibility=hidden -D_GLIBCXX_USE_CXX11_ABI=1 \
  -I"$torch_dir/include" -I"$torch_dir/include/torch/csrc/api/include" \
  "$root/shim/ctorch.cpp" -o "$out.tmp" \
  -L"$torch_dir/lib" -Wl,--no-as-needed $link_torch -ltorch_cpu -lc10 -Wl,--as-needed \
  -Wl,-rpath,"$torch_dir/lib" -Wl,-rpath,'$ORIGIN' -Wl,--exclude-libs,ALL
mv "$out.tmp" "$out"
echo "$key" > "$out.key"
echo "build-shim: wrote $out"
