#!/usr/bin/env bash
# Checks the shipped LoReFT plugin against pyreft 0.1.0 (not a test: it needs torch and pyreft,
# which the tests never load). Builds scripts/loreft_harness.c (the plugin's own hook code), makes
# .venv-pyreft with the CPU torch wheel, pyreft 0.1.0 with the transformers it pins (4.45.1),
# pyvene 0.1.8 and what importing them needs, then compares intervention outputs and gradients
# (scripts/check_loreft_pyreft.py). Exits 1 if a difference passes 1e-6 relative.
#   bash scripts/check-loreft-pyreft.sh
set -euo pipefail
cd "$(dirname "$0")/.."
H=$(mktemp -d)/loreft_harness
cc -O2 -Wall -I Sources/PluginAPI/include scripts/loreft_harness.c -lm -o "$H"
V=.venv-pyreft
if [ ! -x $V/bin/python ] || ! $V/bin/python -c "import pyreft, torch" 2>/dev/null; then
    python3 -m venv $V
    WHEEL=$(ls /opt/wheels/torch-*cpu*.whl 2>/dev/null | head -n 1 || true)
    $V/bin/pip install -q --disable-pip-version-check ${WHEEL:-torch} transformers==4.45.1 matplotlib datasets
    # Their other requirements (jupyter, wandb, plotting) are not imported by the intervention.
    $V/bin/pip install -q --disable-pip-version-check --no-deps pyreft==0.1.0 pyvene==0.1.8
fi
$V/bin/pip list 2>/dev/null | grep -E "^(pyreft|pyvene|torch|transformers) " | tr -s ' '
$V/bin/python scripts/check_loreft_pyreft.py "$H"
