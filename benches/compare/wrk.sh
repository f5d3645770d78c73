#!/usr/bin/env bash
# HTTP load comparison on 127.0.0.1: for each contender, start the release
# server (src/main.rs) on its own loopback port, check it answers 200 for a
# valid token and 401 for a tampered one, then run wrk twice:
#   repeated  - every request carries the same token
#   rotating  - every request carries the next of 10,000 distinct tokens
#               (rotate.lua)
# and print req/s per contender and mode, with ratios.
#
# Environment (defaults):
#   DURATION=10      seconds per wrk run
#   THREADS=2        wrk threads
#   CONNECTIONS=64   wrk connections
#   ALG=RS256        RS256 or ES256
#   COUNT=10000      distinct tokens for the rotating run
#   BASE_PORT=18080  contender i listens on 127.0.0.1:BASE_PORT+i
#   CONTENDERS="noauth oidc-bearer oidc-bearer-nocache jwt-authorizer axum-jwt-auth"
#   ROUNDS=1         rounds; each runs every contender once, in turn, and
#                    the table shows the median over rounds (on a shared
#                    machine, 3 rounds of DURATION=5 beat 1 of 15)
#
# Everything stays on 127.0.0.1 and is bounded in time: each server exits by
# itself after DURATION*2+120 s, and is killed when this script ends.
set -euo pipefail

cd "$(dirname "$0")"

DURATION=${DURATION:-10}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
ALG=${ALG:-RS256}
COUNT=${COUNT:-10000}
BASE_PORT=${BASE_PORT:-18080}
CONTENDERS=${CONTENDERS:-"noauth oidc-bearer oidc-bearer-nocache jwt-authorizer axum-jwt-auth"}
ROUNDS=${ROUNDS:-1}
HOST=127.0.0.1

# --- wrk -------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk not found; installing it with apt-get" >&2
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
    $SUDO apt-get install -y wrk >/dev/null 2>&1 ||
      { $SUDO apt-get update >/dev/null 2>&1 && $SUDO apt-get install -y wrk >/dev/null 2>&1; } ||
      true
  fi
fi
if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk is not installed and could not be installed here." >&2
  echo "Install it (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk) and run again." >&2
  exit 1
fi

# --- server ------------------------------------------------------------------
echo "building the server (release)..." >&2
cargo build --release --quiet --bin oidc-bearer-compare
BIN=target/release/oidc-bearer-compare

WORK=$(mktemp -d "${TMPDIR:-/tmp}/oidc-bearer-wrk.XXXXXX")
SERVER_PID=""

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs wrk and prints "<req/s> <non-2xx count> <p50 latency>".
run_wrk() {
  local out
  out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@")
  echo "$out" >>"$WORK/wrk.log"
  local rps non2xx p50
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  echo "${rps:-0} ${non2xx:-0} ${p50:--}"
}

declare -A RPS NON2XX P50 ALL
for round in $(seq 1 "$ROUNDS"); do
i=0
for contender in $CONTENDERS; do
  port=$((BASE_PORT + i))
  i=$((i + 1))
  [ "$ROUNDS" = 1 ] || echo "-- round $round/$ROUNDS" >&2
  url="http://$HOST:$port/"
  tokens="$WORK/tokens-$contender.txt"
  log="$WORK/server-$contender.log"

  echo "== $contender on $url ($ALG)" >&2
  "$BIN" "$contender" "$HOST:$port" --seconds $((DURATION * 2 + 120)) \
    --tokens "$tokens" --count "$COUNT" --alg "$ALG" >"$log" 2>&1 &
  SERVER_PID=$!

  ready=""
  for _ in $(seq 1 1200); do # up to 120 s: minting 10,000 RSA tokens takes a while
    if grep -q '^READY' "$log" 2>/dev/null; then ready=1; break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$ready" ]; then
    echo "$contender did not become ready:" >&2
    cat "$log" >&2
    exit 1
  fi
  grep -v '^READY' "$log" >&2 || true

  token=$(head -n1 "$tokens")
  if command -v curl >/dev/null 2>&1; then
    ok=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $token" "$url")
    bad=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
      -H "Authorization: Bearer $(head -n1 "$tokens.tampered")" "$url")
    echo "   valid token -> $ok, tampered token -> $bad" >&2
    if [ "$ok" != 200 ] || { [ "$contender" != noauth ] && [ "$bad" != 401 ]; }; then
      echo "$contender answers $ok/$bad, expected 200/401: refusing to benchmark it" >&2
      exit 1
    fi
  fi

  read -r rps non2xx p50 < <(run_wrk -H "Authorization: Bearer $token" "$url")
  ALL[$contender,repeated]="${ALL[$contender,repeated]:-} $rps"
  NON2XX[$contender,repeated]=$((${NON2XX[$contender,repeated]:-0} + ${non2xx:-0})) P50[$contender,repeated]=$p50
  echo "   repeated: $rps req/s (p50 $p50, non-2xx $non2xx)" >&2

  read -r rps non2xx p50 < <(run_wrk -s rotate.lua "$url" -- "$tokens")
  ALL[$contender,rotating]="${ALL[$contender,rotating]:-} $rps"
  NON2XX[$contender,rotating]=$((${NON2XX[$contender,rotating]:-0} + ${non2xx:-0})) P50[$contender,rotating]=$p50
  echo "   rotating: $rps req/s (p50 $p50, non-2xx $non2xx)" >&2

  stop_server
done
done

median() { # median of the numbers given
  tr ' ' '\n' <<<"$*" | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
for contender in $CONTENDERS; do
  for mode in repeated rotating; do
    RPS[$contender,$mode]=$(median "${ALL[$contender,$mode]:-}")
  done
done

# --- report ------------------------------------------------------------------
ratio() { # ratio A B -> A/B with 2 decimals, or "-"
  awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS round(s) (median shown; p50 of the last), $ALG, $(nproc) cores ($(lscpu 2>/dev/null | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}'))"
echo
printf '| %-20s | %14s | %14s | %12s | %12s |\n' contender "repeated req/s" "rotating req/s" "repeated p50" "rotating p50"
printf '|%s|%s|%s|%s|%s|\n' "----------------------" "---------------:" "---------------:" "-------------:" "-------------:"
for contender in $CONTENDERS; do
  flag=""
  if [ "${NON2XX[$contender,repeated]:-0}" != 0 ] || [ "${NON2XX[$contender,rotating]:-0}" != 0 ]; then
    flag=" (non-2xx: ${NON2XX[$contender,repeated]:-0}/${NON2XX[$contender,rotating]:-0})"
  fi
  printf '| %-20s | %14s | %14s | %12s | %12s |\n' "$contender$flag" \
    "${RPS[$contender,repeated]:-}" "${RPS[$contender,rotating]:-}" \
    "${P50[$contender,repeated]:-}" "${P50[$contender,rotating]:-}"
done
echo
if [ "$ROUNDS" != 1 ]; then
  echo "req/s per round:"
  for contender in $CONTENDERS; do
    echo "  $contender: repeated${ALL[$contender,repeated]:-}; rotating${ALL[$contender,rotating]:-}"
  done
  echo
fi
for mode in repeated rotating; do
  echo "$mode: oidc-bearer-nocache / jwt-authorizer = $(ratio "${RPS[oidc-bearer-nocache,$mode]:-}" "${RPS[jwt-authorizer,$mode]:-}")" \
    " (target >= 1.4);" \
    " oidc-bearer / noauth = $(ratio "${RPS[oidc-bearer,$mode]:-}" "${RPS[noauth,$mode]:-}")" \
    " (target >= 0.85 with a repeated token);" \
    " oidc-bearer-nocache / axum-jwt-auth = $(ratio "${RPS[oidc-bearer-nocache,$mode]:-}" "${RPS[axum-jwt-auth,$mode]:-}")"
done
