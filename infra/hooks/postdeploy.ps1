# azd's postdeploy hook on Windows: the same two steps as postdeploy.sh.
$ErrorActionPreference = 'Stop'
azd env set FUNCTION_CODE_DEPLOYED true
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
if ($env:SMOKE_TEST_EMAIL) {
  $python = if ($env:PYTHON) { $env:PYTHON } elseif (Test-Path .venv/Scripts/python.exe) { '.venv/Scripts/python.exe' } else { 'python' }
  if (-not $env:AZURE_CREDENTIAL) { $env:AZURE_CREDENTIAL = 'default' }
  & $python -m shared test-email $env:SMOKE_TEST_EMAIL
  exit $LASTEXITCODE
}
