#!/bin/sh
# azd's postdeploy hook (azure.yaml). 1. Record that the code is deployed, so the provision that follows in
# `azd up` creates the action group and alert rules that call the function. 2. Opt-in smoke test: with
# `azd env set SMOKE_TEST_EMAIL you@contoso.com`, send one email through the deployed ACS, as the app sends
# (`python -m shared test-email`; azd exports the deployment's outputs ACS_ENDPOINT and EMAIL_SENDER to hooks).
set -e
azd env set FUNCTION_CODE_DEPLOYED true
if [ -n "${SMOKE_TEST_EMAIL:-}" ]; then
  if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
  fi
  AZURE_CREDENTIAL="${AZURE_CREDENTIAL:-default}" "$PYTHON" -m shared test-email "$SMOKE_TEST_EMAIL"
fi
