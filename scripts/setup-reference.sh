#!/usr/bin/env bash
# Installs the Python reference stack the benchmarks compare against and the fixture scripts were written
# with (transformers, tokenizers, scikit-learn, pillow) into .deps/venv. Not needed by `make test` or
# `make demo`: the tests compare with committed fixtures.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
deps="${VIDTAG_DEPS:-$root/.deps}"
stamp="$deps/setup-reference-v1.stamp"
[ -f "$stamp" ] && exit 0
"$deps/venv/bin/python" -m pip install -q --disable-pip-version-check \
  "transformers==5.23.0" "tokenizers==0.23.3" "scikit-learn==1.9.1" "pillow==13.0.0"
touch "$stamp"
