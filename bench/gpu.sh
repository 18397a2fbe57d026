#!/usr/bin/env bash
# The GPU measurement kit: measure deno-transfer's WebGPU path on a machine
# that has a GPU but no registry access.
#
#   bash bench/gpu.sh pack [KIT]          # here (online): Deno + a DENO_DIR with
#                                         # the WebGPU backend (+ the Vulkan
#                                         # loader's .deb) into KIT (.gpu-kit)
#   bash bench/gpu.sh run [KIT] [-- ARGS] # there (offline), from the repo root:
#                                         # unpack, then bench/gpu_kit.ts ARGS
#
# The kit plus the repository's tracked files stay under 64 MiB, so a copy of
# the working tree with KIT carried fits the device tool's limit. Data are
# generated on the GPU machine (bench/reference_job.ts), not packed.
# `run -- --quick` checks the kit in minutes (on lavapipe, for instance).
set -euo pipefail
cd "$(dirname "$0")/.."

cmd="${1:-}"
shift || true
kit=.gpu-kit
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  kit="$1"
  shift
fi
if [ "${1:-}" = "--" ]; then shift; fi

limit=$((64 * 1024 * 1024))

pack() {
  command -v deno >/dev/null || { echo "gpu kit: deno is not on PATH" >&2; exit 1; }
  rm -rf "$kit"
  mkdir -p "$kit"
  tmp="$(mktemp -d)"
  trap 'rm -rf "${tmp:-}"' EXIT
  echo "gpu kit: compressing $(deno --version | head -n 1)"
  xz -T0 -6 -c "$(command -v deno | xargs readlink -f)" >"$kit/deno.xz"
  echo "gpu kit: caching the WebGPU bench's npm packages into a fresh DENO_DIR"
  DENO_DIR="$tmp/deno_dir" deno cache --frozen bench/gpu_kit.ts \
    bench/fused_forward.ts bench/reference_job.ts bench/forward_worker.ts \
    src/data/_decode_worker.ts >/dev/null
  # ONNX Runtime's native binaries (~290 MB) are never loaded on this path
  # (engines tfjs, backend webgpu); the package's JS stays, since Deno wants
  # every locked package in the cache. Source maps are for debuggers only.
  rm -rf "$tmp"/deno_dir/npm/registry.npmjs.org/onnxruntime-node/*/bin
  find "$tmp/deno_dir/npm" -name '*.map' -delete
  tar -C "$tmp/deno_dir" -cf - npm | xz -T0 -6 >"$kit/deno_dir.tar.xz"
  # The Vulkan loader: GPU images often ship the driver's ICD but not
  # libvulkan.so.1, which Deno's WebGPU (wgpu) opens.
  mkdir -p "$kit/debs"
  if (cd "$kit/debs" && apt-get download libvulkan1 >/dev/null 2>&1); then
    echo "gpu kit: packed $(ls "$kit/debs")"
  else
    echo "gpu kit: warning: could not download libvulkan1; the GPU machine must have libvulkan.so.1" >&2
  fi
  {
    echo "deno: $(deno --version | head -n 1)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "packed: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$kit/manifest.txt"
  local kit_bytes tree_bytes
  kit_bytes=$(du -sb "$kit" | cut -f1)
  tree_bytes=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1)
  echo "gpu kit: $kit is $((kit_bytes / 1048576)) MiB; with the tracked tree $(((kit_bytes + tree_bytes) / 1048576)) MiB of 64"
  if [ $((kit_bytes + tree_bytes)) -gt "$limit" ]; then
    echo "gpu kit: over 64 MiB with the working tree" >&2
    exit 1
  fi
}

run() {
  [ -f "$kit/deno.xz" ] || { echo "gpu kit: no $kit/deno.xz; run 'bash bench/gpu.sh pack' first" >&2; exit 1; }
  local home="${GPU_KIT_HOME:-/tmp/deno-transfer-gpu-kit}"
  mkdir -p "$home/bin" "$home/deno_dir"
  if [ ! -x "$home/bin/deno" ]; then
    xz -dc "$kit/deno.xz" >"$home/bin/deno.part" && chmod +x "$home/bin/deno.part"
    mv "$home/bin/deno.part" "$home/bin/deno"
  fi
  if [ ! -d "$home/deno_dir/npm" ]; then
    xz -dc "$kit/deno_dir.tar.xz" | tar -C "$home/deno_dir" -xf -
  fi
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
    for f in "$kit"/debs/*.deb; do
      [ -e "$f" ] || continue
      echo "gpu kit: installing the packed Vulkan loader ($(basename "$f"))"
      dpkg -x "$f" /
    done
    ldconfig || true
  fi
  # NVIDIA images mount the driver's ICD here without registering it.
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ] &&
    ! compgen -G "/usr/share/vulkan/icd.d/nvidia*.json" >/dev/null; then
    export VK_DRIVER_FILES="$icd"
  fi
  export DENO_DIR="$home/deno_dir" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
  echo "gpu kit: $("$home/bin/deno" --version | head -n 1); $(cat "$kit/manifest.txt" | tr '\n' ' ')"
  "$home/bin/deno" run --cached-only --frozen -A bench/gpu_kit.ts "$@"
}

case "$cmd" in
pack) pack ;;
run) run "$@" ;;
*)
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
