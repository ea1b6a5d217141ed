#!/usr/bin/env bash
# Python packages the tests need (pyarrow reads back `prepare-data --format parquet`; aiohttp and
# pytest-asyncio run the python/ package's tests), from the machine's local pip mirror: no internet.
# Idempotent: a package that already imports is not installed again.
set -euo pipefail

PIP_INDEX=(--index-url file:///opt/pypi/simple --extra-index-url file:///opt/pypi-more/simple)
# import name -> pip distribution
declare -A PACKAGES=([pyarrow]=pyarrow [aiohttp]=aiohttp [pytest_asyncio]=pytest-asyncio [pytest]=pytest)

missing=()
for module in "${!PACKAGES[@]}"; do
  python3 -c "import ${module}" 2>/dev/null || missing+=("${PACKAGES[$module]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "python-deps: installing ${missing[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${PIP_INDEX[@]}" "${missing[@]}"
fi
python3 -c "import pyarrow, aiohttp, pytest_asyncio, pytest; print('python-deps: pyarrow', pyarrow.__version__, '| aiohttp', aiohttp.__version__, '| pytest-asyncio', pytest_asyncio.__version__)"
