#!/usr/bin/env bash
# Runs every dissector fuzz target for a while, one at a time in a single process (the machine is
# shared), starting from the committed seeds in a scratch corpus (the repository keeps only the
# small seeds). Crashing inputs land in fuzz/regressions/<target>/ -- commit them; `ctest -L fuzz-regression` replays them forever after.
#   usage: fuzz/run_fuzz.sh BUILD_DIR [SECONDS] [TARGET...]   (BUILD_DIR configured with the fuzz preset)
# Set FUZZ_WORK=DIR to keep the grown corpora and logs there (default: a temporary directory), and
# FUZZ_MERGE=1 to merge new coverage (inputs up to 1 KiB) into the committed fuzz/corpus/<target>/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?build dir configured with -DPORTCULLIS_FUZZ=ON}
seconds=${2:-120}
shift $(( $# >= 2 ? 2 : $# ))
targets=("$@")
if (( ${#targets[@]} == 0 )); then
    for source in "$here"/dissect_*_fuzz.cpp; do targets+=("$(basename "$source" _fuzz.cpp)"); done
fi
if [[ -n ${FUZZ_WORK:-} ]]; then
    scratch=$FUZZ_WORK
    mkdir -p "$scratch"
else
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
fi
for target in "${targets[@]}"; do
    corpus=$scratch/$target
    mkdir -p "$corpus" "$here/regressions/$target"
    cp -r "$here/seeds/$target/." "$corpus/" 2>/dev/null || true
    cp -r "$here/corpus/$target/." "$corpus/" 2>/dev/null || true
    log=$scratch/$target.log
    "$build/${target}_fuzz" "$corpus" -max_total_time="$seconds" \
        -max_len=4096 -print_final_stats=1 -artifact_prefix="$here/regressions/$target/" \
        > "$log" 2>&1 || echo "$target: fuzzer exited with $? (see crash file in regressions/$target)"
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 | sed "s/^/$target: /" || true
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$log" | sed "s/^/$target: /" || true
    echo "$target: corpus grew to $(find "$corpus" -type f | wc -l) inputs"
    if [[ ${FUZZ_MERGE:-0} == 1 ]]; then  # fold the new coverage into the committed corpus
        mkdir -p "$here/corpus/$target"
        "$build/${target}_fuzz" -merge=1 -max_len=1024 "$here/corpus/$target" "$corpus" > /dev/null 2>&1
    fi
done
