#!/usr/bin/env bash
# Installs the infra check tools:
#   - tree-sitter + tree-sitter-bicep into the project venv (.venv), from requirements-infra.txt;
#   - checkov into its own venv (.venv-infra), because its many pins clash with the app's dependencies.
# Idempotent; run from anywhere: bash tests/infra/setup.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3.11}"
if [ -x .venv/bin/python ]; then
  .venv/bin/python -m pip install --quiet -r requirements-infra.txt
fi

CHECKOV_VERSION="$(sed -n 's/^checkov==//p' tests/infra/requirements-checkov.txt)"
if [ -x .venv-infra/bin/checkov ] && [ "$(.venv-infra/bin/checkov --version 2>/dev/null)" = "$CHECKOV_VERSION" ]; then
  exit 0
fi
"$PYTHON" -m venv .venv-infra
.venv-infra/bin/python -m pip install --quiet --disable-pip-version-check -r tests/infra/requirements-checkov.txt
.venv-infra/bin/checkov --version
