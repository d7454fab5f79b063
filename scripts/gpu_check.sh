#!/usr/bin/env bash
# GPU check: every GPU path of resnet-deploy, one table plus JSON, in one command.
#
#   bash scripts/gpu_check.sh [--artifact DIR] [--out DIR] [--no-install] [--arch A --size N]
#
# 1. reads the NVIDIA driver version (nvidia-smi);
# 2. when pip can reach an index (and --no-install is not given), makes a venv that sees the
#    system packages (the image's torch stays) and installs the TensorRT, cuda-python and
#    onnxruntime-gpu wheels that match the driver: CUDA 13 wheels (resnet-deploy[tensorrt-cu13])
#    for drivers r580+, else CUDA 12 ones (resnet-deploy[tensorrt-cu12]) plus onnxruntime-gpu,
#    whose TensorRT provider is built against TensorRT 10 + CUDA 12;
# 3. runs scripts/gpu_check.py: FP32/FP16/INT8 engines from the artifact given or a fresh export,
#    parity against ONNX Runtime CPU at batches 1, 3 and the profile max, an out-of-profile batch
#    refused, CUDA-graph replay 8 -> 4 -> 8, the ORT CUDA/TensorRT providers with the
#    active-provider check, and the PyTorch CUDA rows from model.pt2 (eager FP16, channels-last,
#    torch.compile, CUDA graphs). A row whose piece is missing skips with its reason, so the same
#    script is useful on a machine without network or TensorRT (only the PyTorch rows run there).
#
# Output: OUT/gpu_check.md (the table), OUT/gpu_check.json, OUT/gpu_check.log.
# Exit status: 0 no row failed (skips are fine), 1 a row failed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
[ -n "$PY" ] || { [ -x .venv/bin/python ] && PY=.venv/bin/python; } || PY="$(command -v python3)"
OUT="benchmarks/results/gpu-check-$(date +%Y%m%d-%H%M%S)"
INSTALL=1
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --artifact|--arch|--size) ARGS+=("$1" "$2"); shift 2 ;;
    *) echo "error: unknown option '$1'; see the header of $0" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_check.log") 2>&1

DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1 | tr -d ' ')
echo "driver: ${DRIVER:-none (no nvidia-smi or no GPU)}"

pip_reachable() { timeout 30 "$PY" -m pip download --no-deps --no-cache-dir -d "$OUT/.pipcheck" "cuda-python<12.7,>=12.6" >/dev/null 2>&1; }

if [ -n "$DRIVER" ] && [ "$INSTALL" = 1 ] && pip_reachable; then
  major=${DRIVER%%.*}
  if [ "$major" -ge 580 ]; then
    WHEELS=("tensorrt-cu13>=10.13,<12" "cuda-python>=13,<14")
  else
    WHEELS=("tensorrt-cu12>=10.8,<11" "cuda-python>=12.6,<13" "onnxruntime-gpu>=1.20")
  fi
  VENV="$OUT/venv"
  echo "installing for driver $DRIVER: ${WHEELS[*]} into $VENV"
  "$PY" -m venv --system-site-packages "$VENV" \
    && "$VENV/bin/pip" install -q "${WHEELS[@]}" onnx onnxscript \
    && PY="$VENV/bin/python" \
    || echo "install failed: the rows that need these wheels will skip with their reason"
else
  echo "no install (no GPU driver, --no-install, or no reachable package index): using $PY as it is"
fi
rm -rf "$OUT/.pipcheck"

PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$PY" scripts/gpu_check.py --out "$OUT" ${ARGS[@]+"${ARGS[@]}"}
