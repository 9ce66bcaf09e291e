#!/usr/bin/env bash
# Packs what a GPU server without Node or npm needs to run mobilessd's GPU test suites and benchmarks into one
# archive: the Node binary (xz), Dawn's dawn.node for linux-x64, the built library/CLI/tests/benches, the model
# sources (converted on first use there, deterministically, as here), the goldens, and the WebGPU peers (face-api on
# tfjs-backend-webgpu, onnxruntime-web's WebGPU EP) for the peers benchmark. Run here, in the checkout:
#
#   scripts/device/bundle.sh [OUT_DIR]        (default artifacts/device; writes mobilessd-device.tar.xz + run.sh)
#
# Then on the server: scripts/device/run.sh (copied beside the archive) unpacks it and runs everything.
# The archive must leave room for the checkout that travels with it to a lent machine: a call carries at most
# 64 MiB in all (see the README's "Real GPUs" section); the script prints both sizes and fails over the limit.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$here/artifacts/device}" && cd "${1:-$here/artifacts/device}" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
b="$stage/mobilessd"
mkdir -p "$b"
cd "$here"

# The GPU-backed suites the issue names (kernel grids, executor, parity with the TFLite goldens, SSD head), and
# the tuner's. Suites whose oracle is onnxruntime-node (activation, binary, conv_forms, mean, pad, prelu,
# resize) are left out: its CPU binaries alone would not fit. The check at the end refuses any bundled file that
# imports a package the archive lacks.
TESTS="autotune conv2d depthwise_conv2d dwpw_conv2d dwpw_lowering elementwise executor f16_goldens golden_models
  gpu_context integer_executor parity pointwise_conv2d precision_f16 qconv2d qdepthwise_conv2d qelementwise
  qpointwise_conv2d resize_input ssd_head ssd_head_ref ssd_head_subgroups tflite_int_parity"
BENCHES="gemm_tune profile tune peers ssd_head subgroups dwpw_tune depthwise_tune precision"

node scripts/build.mjs lib test bench >/dev/null
# The WebGPU peers' rows: face-api on TF.js as one prebuilt file (no esbuild there), onnxruntime-web's WebGPU builds.
node .build/bench/peers.js --only tfjs-webgpu --prepare-only >/dev/null
mkdir -p "$b/dist/node" "$b/.build/test" "$b/.build/bench" "$b/scripts" "$b/test/fixtures" "$b/results"
cp dist/node/index.js dist/node/cli.js "$b/dist/node/"
for t in $TESTS; do cp ".build/test/$t.test.js" "$b/.build/test/"; done
for t in $BENCHES; do cp ".build/bench/$t.js" "$b/.build/bench/"; done
cp scripts/test-run.mjs scripts/test-reporter.mjs scripts/test-timeout.mjs "$b/scripts/"
cp -r test/fixtures/goldens "$b/test/fixtures/"
cp -r samples "$b/"
mkdir -p "$b/.build/peers" && cp .build/peers/face-api-tfjs.mjs "$b/.build/peers/"
mkdir -p "$b/weights" && cp -r weights/sources "$b/weights/"
# What the tests read from the shared data folder (beside the package, as ../shared is beside a checkout): the
# goldens' images and the COCO source, which is weights/sources/coco's file (a hard link: stored once).
# Found as scripts/shared_data.ts finds it: MOBILESSD_SHARED, beside the checkout, or beside its origin.
origin=$(git config --get remote.origin.url || true)
for shared in "${MOBILESSD_SHARED:-}" "$here/../shared" "${origin:+$origin/../shared}"; do
  [ -n "$shared" ] && [ -d "$shared" ] && break
done
[ -d "$shared" ] || { echo "no shared data folder: set MOBILESSD_SHARED" >&2; exit 1; }
for p in $(grep -rhoE '"path": *"\.\./shared/[^"]+"' test/fixtures/goldens | sed -E 's/.*"\.\.\/shared\/([^"]+)"/\1/' | sort -u); do
  mkdir -p "$stage/shared/$(dirname "$p")" && cp "$shared/$p" "$stage/shared/$p"
done
coco=models/coco-ssd-mobilenet-v1-quant
mkdir -p "$stage/shared/$coco"
for f in detect.tflite labels.txt; do
  cmp -s "$shared/$coco/$f" "$b/weights/sources/coco/$f" || { echo "$shared/$coco/$f differs from weights/sources/coco" >&2; exit 1; }
  ln "$b/weights/sources/coco/$f" "$stage/shared/$coco/$f"
done
# package.json named mobilessd: how the library and the test helpers find their root.
printf '{ "name": "mobilessd", "version": "%s", "type": "module", "private": true }\n' \
  "$(node -p "require('./package.json').version")" >"$b/package.json"

copy_pkg() { # copy_pkg PACKAGE FILE...: the package's package.json and the named files only
  local p=$1
  shift
  mkdir -p "$b/node_modules/$p"
  cp "node_modules/$p/package.json" "$b/node_modules/$p/"
  for f in "$@"; do
    mkdir -p "$b/node_modules/$p/$(dirname "$f")"
    cp "node_modules/$p/$f" "$b/node_modules/$p/$f"
  done
}
copy_pkg webgpu index.js dist/linux-x64/dawn.node
# Symbols are not needed to run and cost megabytes against the 64 MiB (Node's binary too, below).
strip --strip-unneeded "$b/node_modules/webgpu/dist/linux-x64/dawn.node"
copy_pkg @mediapipe/objectron objectron_solution_packed_assets.data objectron_solution_packed_assets_loader.js
copy_pkg @vladmandic/face-api model/ssd_mobilenetv1_model-weights_manifest.json model/ssd_mobilenetv1_model.bin \
  demo/sample1.jpg demo/sample2.jpg demo/sample3.jpg
ort=dist/ort-wasm-simd-threaded
copy_pkg onnxruntime-web dist/ort.webgpu.bundle.min.mjs "$ort.asyncify.mjs" "$ort.asyncify.wasm" \
  dist/ort.all.bundle.min.mjs "$ort.jsep.mjs" "$ort.jsep.wasm"
copy_pkg jpeg-js index.js $(cd node_modules/jpeg-js && ls lib/*.js)
copy_pkg pngjs $(cd node_modules/pngjs && ls lib/*.js)

# esbuild splits what entries share into chunks/: copy those the bundled entries reach (no source maps, which
# would double the size), and refuse the archive if any reached file imports a package it lacks (dynamic
# imports are the peers' optional engines, which report themselves as skipped).
node --input-type=module - "$here" "$b" <<'JS'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
const [here, b] = process.argv.slice(2);
const todo = ['.build/test', '.build/bench', 'dist/node'].flatMap((d) =>
  readdirSync(join(b, d)).filter((f) => f.endsWith('.js')).map((f) => join(d, f)),
);
const seen = new Set();
const missing = new Set();
while (todo.length) {
  const file = todo.pop();
  if (seen.has(file)) continue;
  seen.add(file);
  if (!existsSync(join(b, file))) {
    mkdirSync(dirname(join(b, file)), { recursive: true });
    copyFileSync(join(here, file), join(b, file));
  }
  const text = readFileSync(join(b, file), 'utf8');
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s*"([^"]+)"|^\s*import\s*"([^"]+)"/gm)) {
    const spec = m[1] ?? m[2];
    if (spec.startsWith('.')) todo.push(relative(here, join(here, dirname(file), spec)));
    else if (!spec.startsWith('node:')) {
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (!existsSync(join(b, 'node_modules', pkg))) missing.add(`${file}: ${pkg}`);
    }
  }
}
if (missing.size) {
  console.error(`bundled files import packages the archive lacks:\n  ${[...missing].join('\n  ')}`);
  process.exit(1);
}
JS

# The Vulkan loader, for a server whose image has the NVIDIA driver's ICD but no libvulkan.so.1.
mkdir -p "$b/lib" && cp -L /usr/lib/x86_64-linux-gnu/libvulkan.so.1 "$b/lib/"
# Compressing Node takes minutes: a copy made from the same binary earlier is reused.
node_bin=$(command -v node)
cached=$here/.build/device-node.xz
if [ ! -f "$cached" ] || [ "$node_bin" -nt "$cached" ]; then
  cp "$node_bin" "$stage/node" && strip "$stage/node" && xz -9 -T2 -c "$stage/node" >"$cached" && rm "$stage/node"
fi
cp "$cached" "$b/node.xz"

tar -C "$stage" -cf - mobilessd shared | xz -9 -T2 >"$out/mobilessd-device.tar.xz"
cp scripts/device/run.sh "$out/run.sh"
archive=$(stat -c %s "$out/mobilessd-device.tar.xz")
checkout=$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s}')
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "wrote $out/mobilessd-device.tar.xz ($(mib "$archive")) and $out/run.sh"
echo "with the checkout's tracked files ($(mib "$checkout")): $(mib $((archive + checkout))) of 64 MiB"
if [ $((archive + checkout)) -gt $((64 * 1048576)) ]; then
  echo "over the 64 MiB a lent machine's call carries" >&2
  exit 1
fi
