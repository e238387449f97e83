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

# c10d's process groups: ProcessGroupGloo.hpp includes Gloo's headers, which the wheel does not ship
# (scripts/setup.sh puts Debian's libgloo-dev headers in .deps/gloo/include; the library itself is the copy
# of Gloo inside libtorch_cpu). ProcessGroupNCCL needs a CUDA libtorch plus CUDA's and NCCL's headers.
distributed_flags=()
for dir in "${GLOO_INCLUDE:-}" "$deps/gloo/include" /usr/include; do
  if [ -n "$dir" ] && [ -f "$dir/gloo/algorithm.h" ]; then
    distributed_flags+=(-DCT_WITH_GLOO)
    [ "$dir" != /usr/include ] && distributed_flags+=(-isystem "$dir")
    break
  fi
done
header_dir() {  # the first of the folders after $1 that holds the header $1, or nothing
  local name="$1"; shift
  for dir in "$@"; do [ -f "$dir/$name" ] && { echo "$dir"; return; }; done
}
if [ -n "$link_torch" ] && [ -f "$torch_dir/lib/libtorch_cuda.so" ]; then
  cuda_dirs=("${CUDA_HOME:-/usr/local/cuda}/include" "$torch_dir"/../nvidia/*/include /usr/include)
  nccl_dir="$(header_dir nccl.h "${cuda_dirs[@]}")"
  cuda_dir="$(header_dir cuda_runtime_api.h "${cuda_dirs[@]}")"
  if [ -n "$nccl_dir" ] && [ -n "$cuda_dir" ]; then
    distributed_flags+=(-DCT_WITH_NCCL -DUSE_CUDA)
    for dir in "$cuda_dir" "$nccl_dir" "$torch_dir"/../nvidia/*/include; do
      [ "$dir" != /usr/include ] && [ -d "$dir" ] && distributed_flags+=(-isystem "$dir")
    done
    link_torch="$link_torch -ltorch_cuda"
  fi
fi

key="$(cat "$root/shim/ctorch.cpp" "$root/shim/ctorch.h" "$0" | sha1sum | cut -c1-16)-$(cat "$torch_dir/include/torch/csrc/api/include/torch/version.h" | sha1sum | cut -c1-8)-$torch_dir-$(echo "${distributed_flags[*]}" | sha1sum | cut -c1-8)"
if [ -f "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
  exit 0
fi
mkdir -p "$out_dir"
std="-std=c++20"
echo "build-shim: compiling shim/ctorch.cpp against $torch_dir"
echo "build-shim: process groups: $(case "${distributed_flags[*]}" in *CT_WITH_GLOO*) printf 'gloo ';; esac)$(case "${distributed_flags[*]}" in *CT_WITH_NCCL*) printf 'nccl';; esac)"
g++ $std -O2 -fPIC -shared -fvisibility=hidden -D_GLIBCXX_USE_CXX11_ABI=1 \
  -I"$torch_dir/include" -I"$torch_dir/include/torch/csrc/api/include" "${distributed_flags[@]}" \
  "$root/shim/ctorch.cpp" -o "$out.tmp" \
  -L"$torch_dir/lib" -Wl,--no-as-needed $link_torch -ltorch_cpu -lc10 -Wl,--as-needed \
  -Wl,-rpath,"$torch_dir/lib" -Wl,-rpath,'$ORIGIN' -Wl,--exclude-libs,ALL
mv "$out.tmp" "$out"
echo "$key" > "$out.key"
echo "build-shim: wrote $out"
