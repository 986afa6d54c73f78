#!/usr/bin/env bash
# demo.sh: starts the proxy on the emulated device, describes it with probe, stops the proxy.
set -euo pipefail
bin=${1:-build/dbg/vfio-user-proxy}
dir=$(mktemp -d)
sock=$dir/edu.sock
"$bin" emulate --socket-path "$sock" --log-level warn &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
"$bin" probe "$sock"
