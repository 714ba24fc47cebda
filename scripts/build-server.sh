#!/usr/bin/env bash
# Bundles the server (TypeScript + its runtime dependencies) into server/.image/server.mjs,
# the whole build context of server/Dockerfile, with public/ (the demo page and client.js).
set -euo pipefail
cd "$(dirname "$0")/.."
out=server/.image
mkdir -p "$out"
npx --no-install esbuild server/src/main.ts \
  --bundle --platform=node --target=node20 --format=esm \
  --outfile="$out/server.mjs" --log-level=warning \
  --banner:js="import { createRequire as __wsfCreateRequire } from 'node:module'; const require = __wsfCreateRequire(import.meta.url);" \
  --external:bufferutil --external:utf-8-validate
cp server/Dockerfile "$out/Dockerfile"
# The demo page and the client library's browser bundle, served by the replicas (server/src/demo).
node client/build.mjs >/dev/null
mkdir -p "$out/public"
cp client/dist/fleet-client.js client/dist/demo.js client/dist/demo.css client/dist/index.html "$out/public/"
echo "build-server: $out/server.mjs ($(du -k "$out/server.mjs" | cut -f1) KiB)"
