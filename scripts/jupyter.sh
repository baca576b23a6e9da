#!/usr/bin/env bash
# Runs the project's Jupyter (.venv/, made by scripts/setup.sh) with its config, data and
# runtime dirs inside the checkout, so a kernelspec or config in $HOME cannot shadow ours.
#   bash scripts/jupyter.sh lab            (what `deno task lab` runs)
#   bash scripts/jupyter.sh nbconvert ...  (HTML export in scripts/run_notebooks.ts)
#   bash scripts/jupyter.sh python ...     (the venv's python, e.g. scripts/execute_notebook.py)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ ! -x "$root/.venv/bin/jupyter" ]; then
  echo "jupyter.sh: $root/.venv/bin/jupyter not found; run: bash scripts/setup.sh" >&2
  exit 1
fi
export JUPYTER_CONFIG_DIR="$root/.jupyter/config"
export JUPYTER_DATA_DIR="$root/.jupyter/data"
export JUPYTER_RUNTIME_DIR="$root/.jupyter/runtime"
# Opts into jupyter_core 6 path rules now, which also silences its migration warning.
export JUPYTER_PLATFORM_DIRS=1
export PATH="$root/.tools/node_modules/.bin:$root/.venv/bin:$PATH"
if [ "${1:-}" = python ]; then shift; exec "$root/.venv/bin/python" "$@"; fi
# Jupyter's server refuses to start as root without --allow-root (our CI and GPU hosts run as root).
if [ "${1:-}" = lab ] && [ "$(id -u)" = 0 ]; then set -- "$@" --allow-root; fi
exec "$root/.venv/bin/jupyter" "$@"
