#!/usr/bin/env bash
# What the editor costs, measured (not a test: the figures depend on the machine).
#   1. The audio thread: the live monitor's DSP load (time in the plugin's `process` ÷ audio
#      time) with the editor open, against `--headless`, both playing the demo loop through the
#      heaviest factory preset for SECONDS.
#   2. The editor's CPU: the whole process's CPU time over SECONDS, editor open minus headless
#      (the window runs on baseview's own thread, so no single thread tells), with the editor
#      idle (silence in: nothing moves, so nothing is redrawn) and with meters, spectrum and
#      history running (demo loop).
# Usage: benches/editor_cost.sh [SECONDS] [MATCHBOX BINARY]   (default 20 s, the release
# build: run `cargo build --release` first). Needs Xvfb (Mesa's software OpenGL).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
bin="${2:-target/release/matchbox}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
display=91
while [[ -e "/tmp/.X11-unix/X$display" ]]; do display=$((display + 1)); done
Xvfb ":$display" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
sleep 1

# run LABEL ARGS...: the session's summary line, and the process's CPU over SECONDS in % of a
# core (also left in $cpu for the caller).
run() {
  local label=$1
  shift
  DISPLAY=":$display" XDG_CONFIG_HOME="$work" "$bin" live --backend dummy --preset Broadcast "$@" \
    >"$work/$label.log" 2>&1 &
  local pid=$!
  sleep 3 # start-up, window mapped
  local ticks0
  ticks0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  sleep "$seconds"
  local ticks1
  ticks1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill -INT "$pid"
  wait "$pid" || true
  local hz
  hz=$(getconf CLK_TCK)
  cpu=$(awk -v a="$ticks0" -v b="$ticks1" -v hz="$hz" -v s="$seconds" \
    'BEGIN { printf "%.2f", 100 * (b - a) / hz / s }')
  printf '%-28s process %6s %% of a core; %s\n' "$label" "$cpu" "$(grep '^ran ' "$work/$label.log")"
}

echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $seconds s each"
run "headless, demo loop" --demo --headless
headless=$cpu
run "editor open, demo loop" --demo
live=$cpu
run "editor open, silence (idle)"
idle=$cpu
awk -v h="$headless" -v l="$live" -v i="$idle" 'BEGIN {
  printf "the editor itself: %.2f %% of a core with meters moving, %.2f %% idle\n", l - h, i - h }'
