#!/usr/bin/env bash
# How long `matchbox analyze` takes end to end from the command line (decoding both WAVs,
# writing the preset), alone, on 3-minute stereo pairs: the bench's paired take (the one
# `cargo bench --bench analysis` times in memory) and recorded_material's drums and voice
# through every factory preset. A measurement, not a test: the figures depend on the machine.
#
# Usage: bash benches/analyze_pairs.sh [--runs N] [--against BINARY] [--material DIR]
#   --runs N          runs per pair (default 3); the table gives each pair's median, and
#                     whether the polish's first result fell short there, so that it tried
#                     other starts (its trial: the summary's line "... so it also started from")
#   --against BINARY  another build, run in turn with this one (A B A B ...) on every pair;
#                     the table adds its median, the ratio, and whether the two presets are
#                     the same byte for byte
#   --material DIR    where the pairs are written once and kept (default target/analyze-pairs)
# Builds the release binary first (`cargo build --release`); the pairs are written by
# `cargo bench --bench analysis -- --test` and recorded_material's ignored test
# `write_material`, both with MATCHBOX_MATERIAL=DIR.
set -euo pipefail
runs=3
other=""
material=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs | --against | --material)
      if [[ $# -lt 2 ]]; then
        echo "analyze_pairs: $1 needs a value" >&2
        exit 2
      fi
      case $1 in
        --runs) runs=$2 ;;
        --against) other=$(realpath -- "$2") ;;
        --material) material=$(realpath -m -- "$2") ;;
      esac
      shift 2
      ;;
    *) echo "analyze_pairs: unknown argument $1 (allowed: --runs N, --against BINARY, --material DIR)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
material=${material:-$PWD/target/analyze-pairs}
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "analyze_pairs: --runs takes a whole number of at least 1, not '$runs'" >&2
  exit 2
fi
if [[ -n $other && ! -x $other ]]; then
  echo "analyze_pairs: --against $other is not an executable file" >&2
  exit 2
fi

cargo build --release --quiet
this=target/release/matchbox
mkdir -p "$material"
if [[ ! -f $material/bench-paired.ref.wav ]]; then
  MATCHBOX_MATERIAL="$material" cargo bench --quiet --bench analysis -- --test >/dev/null
fi
if [[ ! -f $material/voice-stereo-3-min.src.wav ]]; then
  MATCHBOX_MATERIAL="$material" TAKES="drums stereo 3 min,voice stereo 3 min" \
    cargo test --release --quiet --test recorded_material -- --ignored write_material >/dev/null
fi

# The pairs, the bench's first: references[i] with sources[i].
references=("$material/bench-paired.ref.wav")
sources=("$material/bench.src.wav")
for take in drums voice; do
  for reference in "$material/$take-stereo-3-min".*.wav; do
    if [[ $reference != *.src.wav ]]; then
      references+=("$reference")
      sources+=("$material/$take-stereo-3-min.src.wav")
    fi
  done
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# seconds BINARY REFERENCE SOURCE TAG: the wall time of one analysis, s (it must succeed); its
# preset in $work/TAG.json, its summary in $work/TAG.out.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$1" analyze --reference "$2" --source "$3" --output "$work/$4.json" >"$work/$4.out" 2>"$work/stderr" || {
    echo "analyze_pairs: $1 failed on $2:" >&2
    cat "$work/stderr" >&2
    exit 1
  }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|fma|avx512f' | tr '\n' ' ' || true)
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; flags: ${flags:-none of avx2, fma, avx512f}"
echo "# matchbox analyze from the command line, alone; median of $runs run(s) per pair${other:+, in turn with $other}"
if [[ -n $other ]]; then
  printf '%-40s %6s %8s %8s %6s %s\n' pair trial this_s other_s ratio same_preset
else
  printf '%-40s %6s %8s\n' pair trial this_s
fi
total=0 total_other=0 under=0 same=0 trials=0
for i in "${!references[@]}"; do
  reference=${references[$i]}
  source=${sources[$i]}
  name=$(basename "$reference" .wav)
  name=${name%.ref}
  mine=() theirs=()
  for ((r = 0; r < runs; r++)); do
    mine+=("$(seconds "$this" "$reference" "$source" this)")
    [[ -z $other ]] || theirs+=("$(seconds "$other" "$reference" "$source" other)")
  done
  m=$(median "${mine[@]}")
  # Whether the polish's first result fell short and it tried other starts (this build's summary).
  trial=no
  if grep -q "so it also started from" "$work/this.out"; then
    trial=yes
    trials=$((trials + 1))
  fi
  total=$(awk -v a="$total" -v b="$m" 'BEGIN { print a + b }')
  under=$(awk -v u="$under" -v m="$m" 'BEGIN { print u + (m < 1) }')
  if [[ -n $other ]]; then
    o=$(median "${theirs[@]}")
    total_other=$(awk -v a="$total_other" -v b="$o" 'BEGIN { print a + b }')
    if cmp -s "$work/this.json" "$work/other.json"; then
      verdict=yes
      same=$((same + 1))
    else
      verdict=no
    fi
    printf '%-40s %6s %8.2f %8.2f %6.3f %s\n' "$name" "$trial" "$m" "$o" "$(awk -v a="$m" -v b="$o" 'BEGIN { print a / b }')" "$verdict"
  else
    printf '%-40s %6s %8.2f\n' "$name" "$trial" "$m"
  fi
done
echo "# all ${#references[@]}: $(printf '%.2f' "$total") s; under 1 s: $under of ${#references[@]}; the polish's trial ran on $trials"
if [[ -n $other ]]; then
  echo "# the other build: $(printf '%.2f' "$total_other") s; ratio $(awk -v a="$total" -v b="$total_other" 'BEGIN { printf "%.3f", a / b }'); the same preset byte for byte on $same of ${#references[@]}"
fi
