#!/usr/bin/env bash
# Development machine: compiles zoo model packages here (nvcc) and packs their JSON and binaries into
# .device/resource.tar.xz, which `prepare` in scripts/gpu-host/steps.sh unpacks on the GPU host, so
# that a device call spends none of its time compiling (DenseNet-201 takes 275 s on 2 cores here).
# The DISB models pack to about 9 MB; a device call carries at most 64 MiB with the working tree,
# and .device/ from ../shared/tools/device-prep is over 50 MB of it: pass fewer models if the
# call is refused for size, or delete .device/deno_dir/gen (Deno rebuilds it on the GPU host).
# Run after ../shared/tools/device-prep, from the repository root.
# Usage: scripts/pack-models.sh [model...]   (default: the models of the DISB workloads)
set -euo pipefail
[ -d .device ] || { echo "pack-models: no .device/ here: run ../shared/tools/device-prep first" >&2; exit 1; }
models=("$@")
if [ ${#models[@]} -eq 0 ]; then # the DISB models, as the bench knows them
  read -ra models < <(deno eval 'import { DISB_MODELS } from "./src/eval/experiments.ts";
    console.log(DISB_MODELS.map((m) => m.model).join(" "));')
  [ ${#models[@]} -gt 0 ] || { echo "pack-models: could not read DISB_MODELS" >&2; exit 1; }
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
deno run --allow-all cli.ts compile "${models[@]}" --root "$work/resource"
# The sources are not needed to load a package; its JSON and binaries are.
tar -cJf .device/resource.tar.xz --exclude='*.cu' -C "$work" resource
echo "pack-models: .device/resource.tar.xz $(du -h .device/resource.tar.xz | cut -f1)," \
  ".device/ $(du -sh .device | cut -f1) in all"
