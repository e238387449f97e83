#!/usr/bin/env bash
# Installs the Python reference stack the benchmarks compare against and the fixture scripts were written
# with (transformers, tokenizers, scikit-learn, pillow; fastapi and uvicorn for bench/serve.sh's twin of
# `vidtag serve`) into .deps/venv, and the packages torch itself
# imports (scripts/setup.sh installs the torch wheel with --no-deps, enough for the C shim's libtorch but
# not for `import torch`, which the Python loader benchmark needs for torch.utils.data.DataLoader).
# Not needed by `make test` or `make demo`: the tests compare with committed fixtures.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
deps="${VIDTAG_DEPS:-$root/.deps}"
python="$deps/venv/bin/python"
stamp="$deps/setup-reference-v3.stamp"
[ -f "$stamp" ] && "$python" -c "import torch, transformers, tokenizers, sklearn, PIL, fastapi, uvicorn" 2>/dev/null && exit 0
"$python" -m pip install -q --disable-pip-version-check \
  "transformers==5.23.0" "tokenizers==0.23.3" "scikit-learn==1.9.1" "pillow==13.0.0" \
  "fastapi==0.165.0" "uvicorn==0.54.0" \
  typing-extensions filelock fsspec jinja2 networkx sympy setuptools
if ! "$python" -c "import torch, torch.utils.data, transformers, tokenizers, sklearn, PIL, fastapi, uvicorn" 2>&1; then
  echo "setup-reference: the reference stack does not import (above); see $python -m pip check" >&2
  exit 1
fi
touch "$stamp"
echo "setup-reference: done (torch $("$python" -c 'import torch; print(torch.__version__)'))"
