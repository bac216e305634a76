#!/usr/bin/env bash
# Vendors the files of onnxruntime-web that the page needs into explorer/static/vendor/onnxruntime-web/, from the
# npm registry's package at a pinned version (nothing is fetched from a CDN, at build time or at run time).
#   bash scripts/vendor_onnxruntime_web.sh            # the pinned version below
#   bash scripts/vendor_onnxruntime_web.sh 1.31.0     # update: then run the browser tests and benchmarks/latency.py
# Two files are kept:
#   ort.wasm.bundle.min.mjs           the wasm-only build as one ES module (the emscripten glue bundled in; ~73 KB)
#   ort-wasm-simd-threaded.wasm.gz    its WebAssembly binary, gzipped (14.2 MB -> ~3.7 MB): the page inflates it with
#                                     DecompressionStream and hands it to the runtime (env.wasm.wasmBinary), since
#                                     Spaces refuses files over 10 MB without LFS and gradio's file route does not
#                                     send Content-Encoding: gzip for a .gz file
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${1:-1.30.0}
DEST=explorer/static/vendor/onnxruntime-web
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "onnxruntime-web@$VERSION" >/dev/null && tar xzf "onnxruntime-web-$VERSION.tgz")
PKG="$TMP/package"
mkdir -p "$DEST"
rm -f "$DEST"/ort.* "$DEST"/ort-wasm-*
cp "$PKG/dist/ort.wasm.bundle.min.mjs" "$DEST/"
gzip -9 -n -c "$PKG/dist/ort-wasm-simd-threaded.wasm" > "$DEST/ort-wasm-simd-threaded.wasm.gz"
python3 - "$PKG/package.json" "$DEST/VERSION.json" "$DEST" <<'PY'
import hashlib, json, pathlib, sys
pkg = json.loads(pathlib.Path(sys.argv[1]).read_text())
dest = pathlib.Path(sys.argv[3])
files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(dest.iterdir())
         if p.name.startswith("ort")}
pathlib.Path(sys.argv[2]).write_text(json.dumps(
    {"package": pkg["name"], "version": pkg["version"], "license": pkg["license"],
     "source": f"https://registry.npmjs.org/{pkg['name']}/-/{pkg['name']}-{pkg['version']}.tgz",
     "sha256": files}, indent=2) + "\n")
PY
ls -l "$DEST"
