#!/usr/bin/env bash
# Runs mobilessd on a GPU server from the archive scripts/device/bundle.sh made (no Node, npm or network needed):
#   (a) the GPU-backed test suites, (b) the GEMM tuning sweep, the per-layer profile of oid-v4 and the autotuner
#   against the table, (c) the peers benchmark's rows that the archive carries. Everything lands in RESULTS_DIR.
#
#   run.sh [RESULTS_DIR]       (default ./results beside this script)
#
# Environment: MOBILESSD_DRIVER (default hardware; lavapipe to rehearse on a machine without a GPU),
# QUICK=1 (small sweeps, for a rehearsal), PEERS (peer ids for (c), default the ones the archive can run),
# STEPS (which of tests,bench,peers to run, default all three: a rerun with little time left can pick one).
# It goes on after a failed step and ends with the list of steps and their exit codes.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
results=$(mkdir -p "${1:-$here/results}" && cd "${1:-$here/results}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mobilessd-device.XXXXXX")
driver=${MOBILESSD_DRIVER:-hardware}
log=$results/run.log
exec > >(tee -a "$log") 2>&1

if command -v xz >/dev/null; then
  tar -C "$work" -xJf "$here/mobilessd-device.tar.xz"
else # python's lzma where the image has no xz
  python3 -c 'import lzma,sys,tarfile; tarfile.open(fileobj=lzma.open(sys.argv[1])).extractall(sys.argv[2])' \
    "$here/mobilessd-device.tar.xz" "$work"
fi
root=$work/mobilessd
mkdir -p "$root/bin"
python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
  "$root/node.xz" "$root/bin/node" 2>/dev/null || xz -dc "$root/node.xz" >"$root/bin/node"
chmod +x "$root/bin/node"
export PATH=$root/bin:$PATH
# A Vulkan loader if the image lacks one; the NVIDIA ICD where the driver installs it outside the loader's paths.
if ! (ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'); then export LD_LIBRARY_PATH=$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}; fi
nv=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$nv" ]; then export VK_DRIVER_FILES=$nv; fi
mkdir -p -m 0700 "$work/xdg"
export XDG_RUNTIME_DIR=$work/xdg MOBILESSD_ROOT=$root MOBILESSD_DRIVER=$driver
cd "$root"

# The adapter's name, for the results' file names (e.g. nvidia-h200).
gpu=$(node --input-type=module -e "
  const { create, globals } = await import('webgpu'); Object.assign(globalThis, globals);
  const a = await create([]).requestAdapter();
  const d = a ? (a.info.description || a.info.device || a.info.vendor) : 'none';
  console.log(d.toLowerCase().replace(/^nvidia /, 'nvidia-').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40));
  process.exit(0);" 2>/dev/null || echo unknown)
[ "$driver" = hardware ] || gpu=$driver
echo "mobilessd device run: $(date -u +%FT%TZ), driver $driver, adapter $gpu, node $(node --version), $(nproc) cores"

declare -a steps=()
wanted=",${STEPS:-tests,bench,peers},"
step() { # step NAME COMMAND...: runs it, records its exit code
  local name=$1
  shift
  echo "=== $name: $*"
  local t0=$SECONDS
  "$@"
  local rc=$?
  steps+=("$name: exit $rc, $((SECONDS - t0)) s")
}

# (a) the GPU-backed suites
[[ $wanted == *,tests,* ]] && step tests node --enable-source-maps --import ./scripts/test-timeout.mjs ./scripts/test-run.mjs .build/test/*.test.js
# (b) tuning sweep, per-layer profile, tuner against the table
if [[ $wanted != *,bench,* ]]; then
  :
elif [ "${QUICK:-}" = 1 ]; then
  step gemm_tune node .build/bench/gemm_tune.js --driver "$driver" --models oid-v4 --reps 1 \
    --variants blocked8x2,tiled64x64 --wgs 64 --out "gemm_tuning_$gpu.md"
  step profile node .build/bench/profile.js --driver "$driver" --model oid-v4 --reps 1 --layers --gemm-variants blocked8x2
  step tune node .build/bench/tune.js --driver "$driver" --model oid-v4 --mode fast --reps 1
else
  step gemm_tune node .build/bench/gemm_tune.js --driver "$driver" --out "gemm_tuning_$gpu.md"
  step profile node .build/bench/profile.js --driver "$driver" --model oid-v4 --layers
  step profile_face node .build/bench/profile.js --driver "$driver" --model face --layers
  step tune node .build/bench/tune.js --driver "$driver" --model oid-v4 --mode full
  # Subgroups, plain and subgroup kernels side by side: whether the hardware table should take them.
  step gemm_subgroups node .build/bench/gemm_tune.js --driver "$driver" --reps 5 \
    --variants blocked4x1,blocked8x2,subgroup4x1,subgroup8x2 --out "gemm_subgroups_$gpu.md"
  step ssd_head node .build/bench/ssd_head.js --driver "$driver"
  step subgroups node .build/bench/subgroups.js --driver "$driver" --model oid-v4
  # Whether the fused depthwise + 1x1 kernel and f16 storage pay on this GPU (neither does on the software ones).
  step dwpw node .build/bench/dwpw_tune.js --driver "$driver" --model oid-v4 --out "dwpw_$gpu.md"
  # Whether the 4x4 depthwise tiles lavapipe takes pay on this GPU too (the hardware table keeps 4x1).
  step depthwise node .build/bench/depthwise_tune.js --driver "$driver" --model oid-v4 --out "depthwise_oid-v4_$gpu.md"
  step precision_oid node .build/bench/precision.js --driver "$driver" --model oid-v4
  step precision_coco node .build/bench/precision.js --driver "$driver"
fi
# (c) peers on the same GPU in the same run: mobilessd's rows, face-api on tfjs-backend-webgpu, onnxruntime-web's
# WebGPU EP (native kernels and JSEP)
peers=${PEERS:-mobilessd-oid,mobilessd,tfjs-webgpu,mobilessd-backbone,ort-webgpu,ort-webgpu-jsep}
[[ $wanted == *,peers,* ]] &&
  step peers node .build/bench/peers.js --driver "$driver" --only "$peers" --face-api-prebuilt ${QUICK:+--quick}
for f in results/peers_"$driver".md results/peers_"$driver".quick.md; do
  [ -f "$f" ] && cp "$f" "results/peers_$gpu.md"
done

cp -r results/. "$results/"
echo "=== summary ($gpu)"
printf '%s\n' "${steps[@]}"
echo "results in $results: $(ls "$results" | tr '\n' ' ')"
rm -rf "$work"
