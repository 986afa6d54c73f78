#!/usr/bin/env bash
# tests/fuzz/deps.sh: installs the Debian 12 packages the fuzz harnesses need (clang-14 with libFuzzer, llvm-14 for coverage), only those missing.
set -euo pipefail
exec "$(dirname "$0")/../../scripts/deps.sh" clang-14 libclang-rt-14-dev llvm-14
