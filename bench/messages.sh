#!/usr/bin/env bash
# bench/messages.sh - messages (docs/MESSAGES.md), `make bench-messages`:
#
#  1. rendered and queued per second: a warehouse outage affecting
#     MSG_ORDERS (10,000) orders, each with an e-mail, replayed by
#     `kintsugi ingest --no-deliver` with the customer audience configured
#     (a notice per order, rendered and written in the flush's transaction)
#     and without (no receiver: the trigger fires, nothing is queued); the
#     difference of the best of 3 is the cost of the notices;
#  2. delivery rate: `kintsugi messages deliver` of those notices to a local
#     webhook (Python's ThreadingHTTPServer answering 202), one at a time as
#     the outbox sends them;
#  3. a receiver that is down: `kintsugi messages deliver --wait 0` of the
#     same notices to a webhook that accepts the connection and never
#     answers (timeout 1s): one pass, one attempt, the rest held behind its
#     retry (docs/MESSAGES.md, "A receiver that is down").
# Prints a summary (also bench/out/messages-summary.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
K=${KINTSUGI:-build/kintsugi}
N=${MSG_ORDERS:-10000}
OUT=bench/out
mkdir -p "$OUT"
T=$(mktemp -d)
RPID=
BPID=
trap '[ -n "$RPID" ] && kill $RPID 2>/dev/null; [ -n "$BPID" ] && kill $BPID 2>/dev/null; rm -rf "$T"' EXIT
python3 - "$N" >"$T/outage.ndjson" <<'EOF'
import json, sys
n = int(sys.argv[1]); base = 1795338000000
print(json.dumps({"type": "health", "ts": base, "system": "wms", "location": "wh1", "status": "up"}))
print(json.dumps({"type": "health", "ts": base + 180000, "system": "wms", "location": "wh1", "status": "down"}))
for i in range(n):
    print(json.dumps({"type": "order", "ts": base + 600000 + i * 100, "order_id": "o%d" % i,
                      "channel": "amazon", "status": "accepted", "location": "wh1",
                      "email": "c%d@shop.example" % i, "value": 1}))
EOF
cat >"$T/recv.py" <<'EOF'
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(202); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1])); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
EOF
python3 "$T/recv.py" "$T/port" & RPID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
cat >"$T/with.yaml" <<EOF
receivers:
  hook: {webhook: "http://127.0.0.1:$(cat "$T/port")/m"}
notify: {customer: [hook]}
EOF
: >"$T/without.yaml"
secs() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); awk -v d=$((e - s)) 'BEGIN { printf "%.3f\n", d / 1e9 }'; }
best() { sort -n | head -1; }
with=$(for r in 1 2 3; do rm -f "$T/w.db"*; secs "$K" ingest --quiet --no-deliver --config "$T/with.yaml" --db "$T/w.db" "$T/outage.ndjson"; done | best)
without=$(for r in 1 2 3; do rm -f "$T/n.db"*; secs "$K" ingest --quiet --no-deliver --config "$T/without.yaml" --db "$T/n.db" "$T/outage.ndjson"; done | best)
queued=$("$K" messages --db "$T/w.db" --json --status queued | jq length)
for f in "$T"/w.db*; do cp "$f" "$T/down${f#"$T/w"}"; done # the same outbox, for part 3
deliver=$(secs "$K" messages deliver --config "$T/with.yaml" --db "$T/w.db")
sent=$("$K" messages --db "$T/w.db" --json --status sent | jq length)
python3 - "$T/bport" <<'EOF' &
import os, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4096)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1])); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    c, _ = s.accept(); held.append(c)  # accepted, never read, never answered
EOF
BPID=$!
for _ in $(seq 1 100); do [ -s "$T/bport" ] && break; sleep 0.05; done
cat >"$T/down.yaml" <<EOF
receivers:
  hook: {webhook: "http://127.0.0.1:$(cat "$T/bport")/m", timeout: 1s}
notify: {customer: [hook]}
EOF
down=$(secs "$K" messages deliver --wait 0 --config "$T/down.yaml" --db "$T/down.db")
tried=$("$K" messages --db "$T/down.db" --json | jq '[.[] | select(.attempts > 0)] | length')
{
    echo "messages: a $N-order outage, $queued customer notices queued (make bench-messages, bench/messages.sh, commit $(git rev-parse --short HEAD 2>/dev/null || echo -))"
    awk -v w="$with" -v o="$without" -v q="$queued" 'BEGIN { printf "  ingest with notices %.3f s, without %.3f s: %.0f messages rendered and queued/s\n", w, o, q / (w - o) }'
    awk -v s="$sent" -v d="$deliver" 'BEGIN { printf "  delivery to a local webhook: %d sent in %.3f s, %.0f messages/s\n", s, d, s / d }'
    awk -v q="$queued" -v d="$down" -v t="$tried" 'BEGIN { printf "  a receiver that never answers (timeout 1s): one pass over %d waiting in %.3f s, %d attempted, %d held\n", q, d, t, q - t }'
} | tee "$OUT/messages-summary.txt"
