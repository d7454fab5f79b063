#!/usr/bin/env bash
# GPU check: everything CI cannot do, in one command, on a host with an NVIDIA GPU.
#
#   bash scripts/gpu_check.sh [OUT_DIR]      # default OUT_DIR: benchmarks/results/gpu-<date>
#
# 1. records the GPU (nvidia-smi) and the installed GPU stack;
# 2. runs the GPU tests: pytest -m "gpu or tensorrt" tests/gpu tests/integration/test_engines_*.py;
# 3. exports the built-in sample ResNet-18 (64 px, trained once and cached), quantises it
#    (INT8 cpu + tensorrt, FP16) and builds fp32/fp16/int8 engines (TensorRT, else TensorRT-RTX);
# 4. checks every GPU backend against PyTorch on held-out sample images (parity.json);
# 5. benchmarks the GPU backends next to the CPU ones (bench/);
# 6. runs trtexec --loadEngine on the same TensorRT engines when trtexec is on PATH.
# Parts that need TensorRT are skipped (and listed in skipped.txt) when it is not installed.
# Exit status: 0 all good, 1 something failed (see gpu_check.log), 2 no GPU here.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
OUT="${1:-benchmarks/results/gpu-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_check.log") 2>&1
status=0
rd() { "$PY" -c "from resnet_deploy.cli import main; main()" "$@"; }
step() { printf '\n== %s\n' "$*"; }
skip() { echo "SKIPPED: $*"; echo "$*" >> "$OUT/skipped.txt"; }
fail() { echo "FAILED: $*"; status=1; }

step "GPU"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "error: no NVIDIA GPU here (nvidia-smi missing or failing); run this script on a GPU host"
  exit 2
fi
nvidia-smi | tee "$OUT/nvidia-smi.txt"
nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv > "$OUT/gpu.csv"

step "GPU software stack"
"$PY" - > "$OUT/stack.json" <<'EOF'
import importlib, json
out = {}
for name in ("tensorrt", "tensorrt_rtx", "cuda.bindings", "onnxruntime", "torch", "torch_tensorrt"):
    try:
        out[name] = getattr(importlib.import_module(name), "__version__", "installed")
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable"
        out[name] = f"unavailable ({type(exc).__name__})"
try:
    import onnxruntime
    out["onnxruntime_providers"] = onnxruntime.get_available_providers()
except Exception:  # noqa: BLE001
    pass
from resnet_deploy.runtime.gpu import gpu_info
g = gpu_info()
out["gpu"] = g.to_dict() if g else None
print(json.dumps(out, indent=2))
EOF
cat "$OUT/stack.json"
HAS_TRT=$("$PY" -c "import importlib.util as u; print(int(any(u.find_spec(m) for m in ('tensorrt', 'tensorrt_rtx'))))")
[ "$HAS_TRT" = 1 ] || skip "no tensorrt/tensorrt_rtx module: engine tests, engine builds, engine parity and trtexec"

step "GPU tests"
"$PY" -m pytest -m "gpu or tensorrt" tests/gpu tests/integration/test_engines_*.py -ra \
  --junitxml "$OUT/pytest.xml" || fail "pytest (see above)"

step "Artifact: sample ResNet-18 at 64 px, exported and quantised"
ART="$OUT/artifact"
CKPT=$("$PY" -c "from resnet_deploy.demo_model import ensure_demo_model as e; print(e('quickstart').checkpoint)") \
  || { fail "demo model"; exit 1; }
rd export --arch resnet18 --weights "$CKPT" --num-classes 10 --input-size 64 --out "$ART" --force \
  || { fail "export"; exit 1; }
rd quantize "$ART" --targets cpu,tensorrt --fp16 --calib-size 256 || fail "quantize"
SIZE=$("$PY" -c "from resnet_deploy.artifact import read_manifest as r; print(r('$ART').input.size)")

step "Engines"
if [ "$HAS_TRT" = 1 ]; then
  for p in fp32 fp16 int8; do
    rd build-engine "$ART" --precision "$p" --batch 1,8,32 --timing-cache "$OUT/timing.cache" --json \
      > "$OUT/engine-$p.json" || fail "build-engine --precision $p"
  done
fi

step "Parity of every GPU backend vs PyTorch (held-out sample images)"
"$PY" - "$ART" "$OUT/parity.json" <<'EOF' || fail "parity"
import json, sys
import numpy as np
from resnet_deploy.artifact import load_manifest
from resnet_deploy.data import open_source
from resnet_deploy.runtime import candidates, make_runner

art, dest = sys.argv[1], sys.argv[2]
m = load_manifest(art)
x, labels = open_source("sample", m.preprocessing, split="eval", limit=256).arrays()

def logits(c):
    runner = make_runner(art, m, c)
    step = runner.max_batch or 32
    with runner:
        return np.concatenate([runner.infer(x[i:i + step]) for i in range(0, len(x), step)])

ref = logits(next(c for c in candidates(m, ["torch"]) if c.runnable))
rows, bad = [], 0
for c in candidates(m, ["tensorrt", "onnxruntime-tensorrt", "onnxruntime-cuda", "torch-tensorrt", "onnxruntime"]):
    row = {"spec": c.spec, "file": c.entry.path if c.entry else None, "skipped": c.skip_reason}
    if c.runnable:
        try:
            out = logits(c)
            row.update(max_abs=float(np.abs(out - ref).max()),
                       rel_to_range=float(np.abs(out - ref).max() / np.ptp(ref)),
                       top1_agreement=float((out.argmax(1) == ref.argmax(1)).mean()))
            if labels is not None:
                row["top1"] = float((out.argmax(1) == labels).mean())
        except Exception as exc:  # noqa: BLE001 - report and carry on with the others
            row["error"] = f"{type(exc).__name__}: {exc}"
            bad += 1
    rows.append(row)
    print(json.dumps(row))
if labels is not None:
    print(json.dumps({"spec": "torch:fp32 (reference)", "top1": float((ref.argmax(1) == labels).mean())}))
json.dump({"n": int(len(x)), "reference": "torch:fp32", "rows": rows}, open(dest, "w"), indent=2)
sys.exit(1 if bad else 0)
EOF

step "Benchmark: GPU backends next to the CPU ones"
rd bench "$ART" --backends tensorrt,onnxruntime-tensorrt,onnxruntime-cuda,torch-tensorrt,torch,onnxruntime \
  --batch-sizes 1,8,32 --out "$OUT/bench" --json > "$OUT/bench.json" || fail "bench"

step "trtexec on the same engines"
if ! command -v trtexec >/dev/null 2>&1; then
  skip "trtexec is not on PATH"
elif ! ls "$ART"/engines/*.tensorrt.plan >/dev/null 2>&1; then
  skip "no TensorRT (non-RTX) engines to load; trtexec cannot load TensorRT-RTX engines"
else
  for plan in "$ART"/engines/*.tensorrt.plan; do
    name=$(basename "$plan" .plan)
    trtexec --loadEngine="$plan" --shapes="input:8x3x${SIZE}x${SIZE}" --useCudaGraph \
      > "$OUT/trtexec-$name.txt" 2>&1 || fail "trtexec $name"
    grep -E "Throughput|Latency: min" "$OUT/trtexec-$name.txt" | sed "s/^/$name: /"
  done
fi

step "Done"
echo "results: $OUT (gpu_check.log, parity.json, bench/, engine-*.json, pytest.xml)"
[ -f "$OUT/skipped.txt" ] && { echo "skipped:"; sed 's/^/  - /' "$OUT/skipped.txt"; }
exit "$status"
