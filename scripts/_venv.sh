# Sourced by the scripts beside it: make sure .venv exists and holds the project as installed
# from pyproject.toml (reinstalled only when pyproject.toml changes).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Rollout Pulse needs Python 3.11 or newer; '$PYTHON' is $("$PYTHON" --version 2>&1)." >&2
  echo "Point PYTHON at a newer interpreter, e.g. PYTHON=python3.12 $0" >&2
  exit 2
fi
EXTRAS="${PULSE_EXTRAS:-dev}"
STAMP=".venv/.installed-$EXTRAS"
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $("$PYTHON" --version)…" >&2
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  echo "Installing Rollout Pulse and its dependencies into .venv…" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$EXTRAS]"
  touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
# Loopback traffic to the Slack stand-in must never go through a proxy.
unset HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy
