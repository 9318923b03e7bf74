#!/usr/bin/env bash
# The short fuzz run of CI (.ci/run calls it; docs/fuzzing.md): every cargo-fuzz target in
# fuzz/Cargo.toml for SECONDS each (default 60), starting from the committed seeds in
# fuzz/corpus/TARGET and the committed reproducers in fuzz/artifacts/TARGET. Exits non-zero if any
# target crashes, times out or runs out of memory, after running all of them. Prints executions per
# target.
#
# Needs a nightly toolchain (FUZZ_TOOLCHAIN, default the pinned date below) and cargo-fuzz; installs
# either when missing. If rustup cannot install the nightly, it falls back to the repository's
# pinned stable toolchain with RUSTC_BOOTSTRAP=1 (which lets a stable compiler take the -Z flags
# cargo-fuzz passes), and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
toolchain=${FUZZ_TOOLCHAIN:-nightly-2026-10-30}
cargo_fuzz_version=0.13.2

if rustup run "$toolchain" rustc --version >/dev/null 2>&1 ||
  rustup toolchain install "$toolchain" --profile minimal >/dev/null 2>&1; then
  cargo=(cargo "+$toolchain")
  echo "fuzz toolchain: $(rustup run "$toolchain" rustc --version)"
else
  cargo=(cargo)
  export RUSTC_BOOTSTRAP=1
  echo "fuzz toolchain: could not install $toolchain; using $(rustc --version) with RUSTC_BOOTSTRAP=1"
fi

if ! cargo fuzz --version 2>/dev/null | grep -q "cargo-fuzz $cargo_fuzz_version"; then
  echo "installing cargo-fuzz $cargo_fuzz_version"
  cargo install --locked --quiet cargo-fuzz --version "$cargo_fuzz_version"
fi
cargo fuzz --version

cargo fmt --manifest-path fuzz/Cargo.toml --check

start=$(date +%s)
"${cargo[@]}" fuzz build
echo "built the fuzz targets in $(($(date +%s) - start)) s"

# Where the targets write (the extractor's sandboxes): on tmpfs if there is one, removed at the end.
shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
MMC_FUZZ_TMP=$(mktemp -d "$shm/mmc-fuzz-ci.XXXXXX")
export MMC_FUZZ_TMP
work=target/fuzz-ci
trap 'rm -rf "$MMC_FUZZ_TMP"' EXIT
rm -rf "$work"
mkdir -p "$work"

failed=()
for target in $(cargo fuzz list | grep '^fuzz_'); do
  mkdir -p "$work/$target/corpus" "fuzz/artifacts/$target"
  log=$work/$target/log
  t0=$(date +%s)
  status=0
  # New inputs go to the scratch corpus (first directory); seeds and reproducers are only read.
  "${cargo[@]}" fuzz run "$target" "$work/$target/corpus" "fuzz/corpus/$target" "fuzz/artifacts/$target" -- \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  peak=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
  echo "$target: ${runs:-?} executions in $(($(date +%s) - t0)) s, peak RSS ${peak:-?} MB, exit $status"
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    # The panic or sanitizer report, and where libFuzzer saved the input.
    grep -E -A12 'panicked at|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)' "$log" | head -n 40 || true
    grep -E 'Test unit written to|artifact_prefix' "$log" || true
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found a problem in: ${failed[*]} (reproduce with: cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/FILE)"
  exit 1
fi
echo "fuzzing: no crash in $(cargo fuzz list | grep -c '^fuzz_') targets"
