#!/usr/bin/env bash
# Instruction counts of the hot_path cases under callgrind: repeatable on a
# shared, noisy machine where wall-clock ratios of a few percent are not.
#
#   benches/callgrind.sh [RUNS]      # RUNS per case, default 200
#
# Builds the hot_path bench, runs it once under
#   valgrind --tool=callgrind --toggle-collect=*callgrind_region* \
#            --dump-after=*callgrind_region*
# with OIDC_BEARER_CALLGRIND=RUNS (each case runs RUNS times inside
# `callgrind_region`, one dump per case), and writes
# target/callgrind/instructions.tsv: case <TAB> instructions per run.
# `python3 benches/ratios.py --callgrind` prints the ratios from it.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-200}
command -v valgrind >/dev/null || {
  echo "valgrind is missing (Debian/Ubuntu: apt-get install valgrind)" >&2
  exit 1
}

bin=$(cargo bench --bench hot_path --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "hot_path" and m.get("executable"):
        print(m["executable"])')
[ -x "$bin" ] || { echo "could not build the hot_path bench" >&2; exit 1; }

out=target/callgrind
rm -rf "$out"
mkdir -p "$out"
echo "running $bin under callgrind, $RUNS runs per case (a few minutes)..." >&2
OIDC_BEARER_CALLGRIND=$RUNS timeout 1800 valgrind --tool=callgrind \
  --toggle-collect='*callgrind_region*' --dump-after='hot_path::callgrind_region' \
  --callgrind-out-file="$out/callgrind.out" \
  "$bin" --bench 2>"$out/log"

# Dumps are callgrind.out.1, .2, ... in the order the cases announced
# themselves on stderr.
python3 - "$out" "$RUNS" <<'PY'
import os, re, sys
out, runs = sys.argv[1], int(sys.argv[2])
cases = [l.split(" ", 1)[1].strip() for l in open(os.path.join(out, "log"))
         if l.startswith("CALLGRIND_CASE ")]
dumps = sorted((f for f in os.listdir(out) if re.fullmatch(r"callgrind\.out\.\d+", f)),
               key=lambda f: int(f.rsplit(".", 1)[1]))
if len(dumps) < len(cases):
    sys.exit(f"{len(cases)} cases but {len(dumps)} dumps: see {out}/log")
rows = []
for case, dump in zip(cases, dumps):
    total = None
    for line in open(os.path.join(out, dump)):
        if line.startswith(("summary:", "totals:")):
            total = int(line.split()[1])
    rows.append((case, total / runs))
with open(os.path.join(out, "instructions.tsv"), "w") as f:
    for case, ir in rows:
        f.write(f"{case}\t{ir:.0f}\n")
for case, ir in rows:
    print(f"{case:40} {ir:12.0f} instructions per run")
PY
