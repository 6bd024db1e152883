#!/usr/bin/env bash
# Accuracy of every demonstration model on fresh samples of its task, measured by our engine
# (`statescope-cli task`) on the CPU reference and on the Vulkan device, at the sizes the training
# script evaluated (tools/train_demos.py eval_plan). Prints a Markdown table for
# assets/models/README.md. Usage: tools/measure-tasks.sh [SAMPLES [MODEL...]] (default 1000 samples,
# every model). STATESCOPE_CLI names another statescope-cli (a build on another machine).
set -euo pipefail
cd "$(dirname "$0")/.."
samples="${1:-1000}"
shift || true
only=("$@")
cli="${STATESCOPE_CLI:-build/app/statescope-cli}"
plan=(
  "mqar-deltanet pairs 2 4 8 12 16 20 24 32"
  "mqar-gla pairs 2 4 8 12 16 20 24 32"
  "mqar-linear-attn pairs 2 4 8 12 16 20 24 32"
  "parity-deltanet-negeig length 64 128 256"
  "parity-deltanet length 64 128 256"
  "selcopy-mamba region 48 96"
  "s3-deltaproduct length 64 128 256"
)
accuracy() { "$cli" task "assets/models/$1" --"$2" "$3" --samples "$samples" --seed 1000 --backend "$4" | tail -1 | awk '{print $3}'; }
echo "| model | size | CPU | Vulkan |"
echo "|---|---|---|---|"
for row in "${plan[@]}"; do
  read -r model flag sizes <<<"$row"
  if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $model "* ]]; then continue; fi
  for size in $sizes; do
    echo "| $model | $flag $size | $(accuracy "$model" "$flag" "$size" cpu) | $(accuracy "$model" "$flag" "$size" vulkan) |"
  done
done
echo
echo "$samples samples each from seed 1000; Vulkan: $("$cli" devices 2>/dev/null | grep -m1 selected || true)"
