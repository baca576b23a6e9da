#!/usr/bin/env bash
# One-command set-up, then the main job. Run from anywhere:  bash scripts/setup.sh
# (--install-only: stop after installing; .ci/run uses it and runs every notebook itself).
#
# Needs Node 20 + npm, python3 (with venv) and the npm registry; pip reads the machine's local
# mirror (pip.conf). Everything lands inside the checkout, nothing in $HOME:
#   .tools/   Deno 2.9.6 from npm (the package carries the binary)
#   .venv/    JupyterLab, nbconvert, nbclient, plotly (pinned in scripts/requirements.txt)
#             and the Deno kernelspec (.venv/share/jupyter/kernels/deno, env NO_COLOR=1)
#   .jupyter/ Jupyter's config/data/runtime dirs (see scripts/jupyter.sh)
# Then it executes notebooks/00_quickstart.ipynb headless and writes out/notebooks/*.html,
# checked in headless Chromium when /usr/bin/chromium exists (apt-get install -y chromium).
set -euo pipefail

DENO_VERSION=2.9.6
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
step() { printf '\n== %s\n' "$*"; }

step "Deno $DENO_VERSION from npm into .tools/"
deno=.tools/node_modules/.bin/deno
if [ "$("$deno" --version 2>/dev/null | head -1 | cut -d' ' -f2)" != "$DENO_VERSION" ]; then
  mkdir -p .tools
  npm install --prefix .tools --save-exact --no-audit --no-fund --loglevel=error "deno@$DENO_VERSION"
fi
"$deno" --version | head -1

step "Python venv .venv/ with Jupyter (pip: local mirror, no retries)"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
# PIP_RETRIES=0: the default index is unreachable here, and retrying it costs minutes.
if ! PIP_RETRIES=0 .venv/bin/pip install --retries 0 --disable-pip-version-check -q \
  -r scripts/requirements.txt >.venv/pip-install.log 2>&1; then
  cat .venv/pip-install.log
  echo "setup: pip install -r scripts/requirements.txt failed (log above, also in .venv/pip-install.log)" >&2
  exit 1
fi
.venv/bin/python -c 'import jupyterlab, nbconvert, nbclient, plotly; print("jupyterlab", jupyterlab.__version__, "| nbconvert", nbconvert.__version__, "| plotly", plotly.__version__)'

step "Deno kernelspec into .venv/share/jupyter/kernels/deno"
# `deno jupyter --install` always writes to $HOME, so run it against a scratch HOME (for the
# logos and argv) and move the result into the venv, which Jupyter searches before $HOME.
scratch=$(mktemp -d)
HOME=$scratch "$deno" jupyter --install --force >/dev/null 2>&1
spec=.venv/share/jupyter/kernels/deno
rm -rf "$spec" && mkdir -p "$(dirname "$spec")"
mv "$scratch/.local/share/jupyter/kernels/deno" "$spec"
rm -rf "$scratch"
.venv/bin/python - "$spec/kernel.json" "$(readlink -f "$deno")" <<'PY'
import json, sys
path, deno = sys.argv[1], sys.argv[2]
spec = json.load(open(path))
spec["argv"][0] = deno
# NO_COLOR: text/plain results carry ANSI colours otherwise (DESIGN.md).
spec["env"] = {"NO_COLOR": "1", "DENO_NO_UPDATE_CHECK": "1"}
json.dump(spec, open(path, "w"), indent=2)
PY
bash scripts/jupyter.sh kernelspec list

if [ "${1:-}" = "--install-only" ]; then exit 0; fi

step "Main job: the quickstart notebook, headless, to out/notebooks/"
browser=()
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "Chromium not found: the HTML pages are written but not checked in a browser" \
    "(apt-get install -y chromium, then: deno task notebooks)."
  browser=(--no-browser-check)
fi
"$deno" task notebooks "${browser[@]}" notebooks/00_quickstart.ipynb
echo
echo "Set-up done. Report: out/notebooks/00_quickstart.html"
echo "Next: $deno task test   (and $deno task lab for JupyterLab)"
