#!/usr/bin/env bash
# Integration test of `canonedit sweep --slurm` against a real single-node Slurm that this
# script installs (Debian's slurm-wlm with munge), configures and starts, then stops.
# Needs root. Run after a build (CI runs it after swift test):  bash scripts/slurm-integration.sh
# It submits a tiny sweep (2 runs of a tiny model) as a job array, waits for it, and checks
# that every run wrote its results; then a tiny benchmark whose two phases are job arrays. Prints how many runs passed and exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# The release binary if built, else the debug one `swift test` builds.
EXE="$ROOT/.build/release/canonedit"
[ -x "$EXE" ] || EXE="$ROOT/.build/debug/canonedit"
[ -x "$EXE" ] || { swift build >&2; EXE="$ROOT/.build/debug/canonedit"; }
[ "$(id -u)" = 0 ] || { echo "run as root (it installs and starts slurm)" >&2; exit 1; }
if ! command -v slurmctld >/dev/null; then
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
fi
WORK=$(mktemp -d /tmp/canonedit-slurm-XXXX)
HOST=$(hostname -s)
cleanup() {
    pkill -x slurmd 2>/dev/null || true; pkill -x slurmctld 2>/dev/null || true; pkill -x munged 2>/dev/null || true
    sleep 1
    pkill -9 -x slurmd 2>/dev/null || true; pkill -9 -x slurmctld 2>/dev/null || true; pkill -9 -f slurmscriptd 2>/dev/null || true
}
trap cleanup EXIT

# munge: the key, then the daemon (as the munge user)
mkdir -p /etc/munge /run/munge /var/log/munge /var/lib/munge
[ -s /etc/munge/munge.key ] || { mungekey --create 2>/dev/null || create-munge-key -f; }
chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
chmod 0700 /etc/munge; chmod 0400 /etc/munge/munge.key

# slurm: one node, this machine
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=canonedit
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
JobCompType=jobcomp/none
MpiDefault=none
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
cleanup; sleep 2
runuser -u munge -- /usr/sbin/munged
for i in $(seq 1 20); do [ -S /run/munge/munge.socket.2 ] && munge -n >/dev/null 2>&1 && break; sleep 0.5; done
slurmctld; sleep 2; slurmd
for i in $(seq 1 30); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo

# a tiny sweep: the zoo's tiny Llama and a few lines of data
MODEL="$ROOT/Tests/TestSupport/Fixtures/zoo/llama"
printf '{"prefix": "Cap of Ab is", "suffix": " Xy"}\n{"prefix": "Cap of Cd is", "suffix": " Zw"}\n' > "$WORK/train.jsonl"
printf '{"prefix": "The cap of Ab is", "suffix": " Xy"}\n' > "$WORK/eval.jsonl"
printf '{"text": "a general text"}\n{"text": "another line"}\n' > "$WORK/general.jsonl"
cat > "$WORK/base.yaml" <<YAML
model: $MODEL
threshold: 1.6
training: {dataset_path: $WORK/train.jsonl, finetune_type: lora, loss_type: good, suffix_pair: false, learning_rate: 0.01, num_epochs: 2, regularization_type: KL, regularization_data_path: $WORK/general.jsonl, regularization_weight: 0.5}
validation: {intervention_eval_path: $WORK/eval.jsonl, degredation_general_path: $WORK/general.jsonl}
YAML
cat > "$WORK/sweep.yaml" <<YAML
name: slurm-integration
base_configs: [$WORK/base.yaml]
runs: 2
seed: 3
output: $WORK/sweep
YAML
"$EXE" sweep "$WORK/sweep.yaml" --slurm --slurm-wait --slurm-cpus 1 --slurm-mem 1G --slurm-time 00:10:00
passed=0; failed=0
for f in "$WORK"/sweep/configs/*.yaml; do
    r="$WORK/sweep/results/$(basename "${f%.yaml}").results.json"
    if [ -s "$r" ] && ! grep -q '"error"' "$r"; then passed=$((passed+1)); else failed=$((failed+1)); echo "missing or failed: $r" >&2; fi
done
ls "$WORK"/sweep/slurm/ >&2

# a tiny benchmark: one task in the authors' layout, each phase a job array the benchmark waits for
SPLIT="$WORK/authors/data/country_capital/split"
mkdir -p "$SPLIT"
# validation and test are different examples, as select requires
for s in val:Ab:Xy test:Gh:Uv; do
    IFS=: read -r split c t <<< "$s"
    printf '{"prefix": "Cap of %s is", "suffix": " %s"}\n{"prefix": "Cap of Cd is", "suffix": " Zw"}\n' "$c" "$t" \
        > "$SPLIT/country_capital_fixed-$split.jsonl"
    printf '{"prefix": "The cap of %s is", "suffix": " %s"}\n' "$c" "$t" > "$SPLIT/country_capital_clear_eval-$split.jsonl"
    printf '{"prefix": "Ab has a town", "suffix": " Mn"}\n' > "$SPLIT/country_capital_hard_neg-$split.jsonl"
    printf '{"text": "The cap of %s is %s."}\n' "$c" "$t" > "$SPLIT/country_capital_unconditional-$split.jsonl"
done
cat > "$WORK/bench.yaml" <<YAML
name: slurm-benchmark
data_root: authors
general: general.jsonl
kl: general.jsonl
models: [$MODEL]
tasks: [country_capital]
methods: [lora]
points: 1
epochs: 1
seeds: 1
grad_acc_steps: 1
YAML
"$EXE" benchmark "$WORK/bench.yaml" --slurm --slurm-cpus 1 --slurm-mem 1G --slurm-time 00:10:00
if grep -q '"rows"' "$WORK/benchmarks/slurm-benchmark/benchmark.json" \
    && ls "$WORK"/benchmarks/slurm-benchmark/llama/slurm/array.sh "$WORK"/benchmarks/slurm-benchmark/llama/test/slurm/array.sh >/dev/null; then
    passed=$((passed+1))
else
    failed=$((failed+1)); echo "the benchmark over Slurm wrote no tables" >&2
fi
echo "slurm integration test: $passed runs passed, $failed failed"
[ "$failed" = 0 ]
