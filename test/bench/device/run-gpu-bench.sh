#!/usr/bin/env bash
# Run ON THE GPU MACHINE (device tool, carry [".devbundle", ".gl"], after prepare.sh here): the
# features benchmark with Dawn's WebGPU over the machine's Vulkan driver, next to the CPU path, in
# one process, plus the calibration the app would do there. Results land in $OUT (or ./device-out).
# Budget: well under 10 minutes (one adapter ×7, a batch of 20, the naive path sampled).
set -uo pipefail
cd "$(dirname "$0")/../../.."
out=${OUT:-$(pwd)/device-out}
mkdir -p "$out"
exec > >(tee "$out/run.log") 2>&1

echo "== machine"
uname -m; nproc; (nvidia-smi -L || echo "nvidia-smi: none") 2>&1

if [ -d .gl ] && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
# The NVIDIA ICD lives under the driver's read-only mount on these machines.
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
echo "libvulkan: $(ldconfig -p | grep -c libvulkan.so.1) entries; VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"

lab=/tmp/lora-audit-lab
mkdir -p "$lab"
if [ -f .devbundle/node.xz ]; then
  xz -dc .devbundle/node.xz > "$lab/node" && chmod +x "$lab/node"
  tar -C "$lab" -xJf .devbundle/modules.tar.xz
  # node_modules is git-ignored, so this link touches nothing tracked
  [ -e node_modules ] || ln -s "$lab/node_modules" node_modules
  node="$lab/node"
elif [ -x node_modules/.bin/node ]; then
  node=node_modules/.bin/node
else
  echo "no Node: run test/bench/device/prepare.sh on the development machine and carry .devbundle"; exit 2
fi
"$node" --version

echo "== calibration (what 'auto' picks here, and why)"
timeout 120 "$node" test/bench/device/calibrate.ts | tee "$out/calibration.txt"

echo "== benchmark: webgpu next to the CPU path"
timeout 420 "$node" test/bench/features.bench.ts --backends "${BACKENDS:-cpu,reference,naive,webgpu,gpujs-cpu}" --batch "${BATCH:-20}" --json "$out/features-bench.json" \
  | tee "$out/features-bench.txt"
echo "bench exit: ${PIPESTATUS[0]}"
