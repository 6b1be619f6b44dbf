# lib.bash - shared by the CLI integration tests (sourced, not run).
# check NAME CMD...    runs CMD, counts it as passed when it exits 0, else prints its output
# is WANT GOT...       succeeds when GOT (its words joined) is WANT, else says both
# exit_is CODE CMD...  succeeds when CMD exits with CODE
# Both scripts end with: echo "RESULT passed=$passed failed=$failed"
K=${KINTSUGI:-build/san/kintsugi}
SC=tests/scenarios
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0

check() {
    local name=$1
    shift
    if "$@" >"$T/out" 2>"$T/err"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name"
        sed 's/^/    /' "$T/out" "$T/err" | tail -15
    fi
}

is() { # WANT GOT...: equal, else say both
    local want=$1
    shift
    [ "$*" = "$want" ] || { echo "want: $want"; echo "got:  $*"; return 1; }
}
exit_is() {
    local want=$1
    shift
    "$@" >/dev/null 2>&1
    [ $? -eq "$want" ]
}

# outage_orders N VALUE MINUTES EMAIL: a WMS outage at wh1 (up at 2026-11-22T09:00Z,
# down 3 minutes later), N orders there from 09:10, one a second, each of
# VALUE, then a tick MINUTES after the last; EMAIL: all (each order with an
# e-mail), none, or 6of7 (every seventh without).
outage_orders() {
    python3 - "$@" <<'PY'
import json, sys
n, value, minutes, email = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
base = 1795338000000
ev = [{"type": "health", "ts": base, "system": "wms", "location": "wh1", "status": "up"},
      {"type": "health", "ts": base + 180000, "system": "wms", "location": "wh1", "status": "down"}]
for i in range(n):
    o = {"type": "order", "ts": base + 600000 + i * 1000, "order_id": "o%d" % i, "channel": "amazon",
         "status": "accepted", "location": "wh1", "customer": "c%d" % i, "value": value}
    if email == "all" or (email == "6of7" and i % 7 != 6):
        o["email"] = "c%d@shop.example" % i
    ev.append(o)
ev.append({"type": "tick", "ts": base + 600000 + n * 1000 + minutes * 60000})
for e in ev:
    print(json.dumps(e))
PY
}
