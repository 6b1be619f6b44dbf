#!/usr/bin/env bash
# Time-driven message triggers in a live server (docs/MESSAGES.md, "When the
# triggers run"): a WMS outage with 60 affected customers stays open and
# unchanged for hours while only ticks arrive, one request each, so that
# every request is a flush with its trigger pass. The passes leave out the
# open incidents that did not change and have nothing due; what falls due
# (the reminders of an overdue status update, the customer follow-up, the
# order-delay notices) must fire all the same, at its instant:
#   - under the sanitizer build, every pass also runs the incidents it would
#     leave out and aborts if one of them fires (src/comms/trigger.c);
#   - the server (sanitizer and release builds) writes the same messages
#     (who is told of what, when) and the same notification entries as one
#     `kintsugi ingest` of the same events (each in a database of its own,
#     so their idempotency keys differ: a key carries its database's id).
# Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/serve_lib.bash"
KR=${KINTSUGI_RELEASE:-build/kintsugi}

cat >"$T/kintsugi.yaml" <<EOF
receivers:
  files: {dir: "$T/outbox"}
notify: {team: [files], leadership: [files], customer: [files]}
messages: {shop: "Example Shop", update_p2: 40m, follow_up: 90m, delay: 150m}
EOF
check config_ok "$K" check-config "$T/kintsugi.yaml"

# the outage at 00:03, 60 orders from 00:10, then a tick every 7 minutes to 05:00
{
    outage_orders 60 10 0 all
    for k in $(seq 1 43); do printf '{"type":"tick","ts":%d}\n' $((1795338000000 + 660000 + k * 7 * 60000)); done
} >"$T/events.ndjson"

# Each trigger's instant X, learnt from an ingest of these events, gets ticks
# at X - 1 ms, X and X + 1 ms, so that a pass runs right before and right
# at the instant each falls due: one left out a millisecond too long fails.
"$K" ingest --quiet --no-deliver --config "$T/kintsugi.yaml" --db "$T/probe.db" "$T/events.ndjson" >/dev/null 2>&1
"$K" incident show 1 --db "$T/probe.db" --json |
    jq -r '.timeline[] | select(.kind == "notification") | .at' | sort -u >"$T/instants"
python3 - "$T/events.ndjson" "$T/instants" >"$T/all.ndjson" <<'EOF2'
import datetime, json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
for line in open(sys.argv[2]):
    t = datetime.datetime.strptime(line.strip(), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    x = int(t.timestamp() * 1000 + 0.5)
    ev += [{"type": "tick", "ts": x + d} for d in (-1, 0, 1)]
ev.sort(key=lambda e: e["ts"])  # stable: events keep their order at one instant
for e in ev:
    print(json.dumps(e))
EOF2
mv "$T/all.ndjson" "$T/events.ndjson"
check boundary_ticks_added [ "$(wc -l <"$T/instants")" -ge 5 ]

# the reference: one ingest, one flush
"$K" ingest --quiet --no-deliver --config "$T/kintsugi.yaml" --db "$T/ref.db" "$T/events.ndjson" >/dev/null 2>&1
# messages as "kind audience incident recipient receiver" (not their keys: each
# database has its own; nor when they were queued: the orders affected after a
# per-order trigger fired are covered by the pass that first sees them, one
# per request here, one in all for the ingest), each key once
keys() {
    "$K" messages --db "$1" --json |
        jq -r 'if ([.[] | [.idempotency_key, .receiver]] | unique | length) == length then .[] else error("a key twice") end |
            "\(.kind) \(.audience) \(.incident) \(.recipient) \(.receiver)"' | sort
}
notes() { "$K" incident show 1 --db "$1" --json | jq -c '[.timeline[] | select(.kind == "notification") | {at, text}]'; }
keys "$T/ref.db" >"$T/ref.keys"
notes "$T/ref.db" >"$T/ref.notes"
kinds() { awk '{print $1}' "$T/ref.keys" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}'; }
echo "    reference: $(kinds)"
# every time-driven trigger is in the stream: 3 reminders, 60 follow-ups, 60 order-delay notices
check reference_has_reminders [ "$(grep -c '^reminder ' "$T/ref.keys")" = 3 ]
check reference_has_follow_ups [ "$(grep -c '^follow_up ' "$T/ref.keys")" = 60 ]
check reference_has_order_delays [ "$(grep -c '^order_delay ' "$T/ref.keys")" = 60 ]
# a reminder names when the overdue update was due (the update_p2 of 40m after the
# detection, as its timeline entry says), never the next one, still ahead
reminders() {
    "$K" messages --db "$T/ref.db" --json | jq -r '[.[] | select(.kind == "reminder")] | .[0].body'
    "$K" incident show 1 --db "$T/ref.db" --json |
        jq -r '.timeline[] | select(.kind == "notification" and (.text | startswith("Reminder:"))) | .text' | head -1
}
due_named() {
    local out due det
    out=$(reminders)
    echo "$out"
    det=$("$K" incident show 1 --db "$T/ref.db" --json | jq -r .detected_at)
    due=$(date -u -d "$det + 40 min" +%Y-%m-%dT%H:%M:%S.%3NZ)
    grep -qF "was due at $due." <<<"$out" && grep -qF "the status update due at $due is overdue" <<<"$out"
}
check reminder_names_the_overdue_instant due_named

# the same events through a server, one request each
live() { # NAME BINARY
    local name=$1 bin=$2 db=$T/$1.db
    "$bin" token create --name t --role admin --db "$db" >"$T/$name.tok" 2>/dev/null
    local tok
    tok=$(cat "$T/$name.tok")
    K=$bin start "$name" "$db" --config "$T/kintsugi.yaml" --clock event || return 1
    local line n=0
    while IFS= read -r line; do
        req POST /v1/events "$tok" "$line" application/x-ndjson
        [ "$CODE" = 202 ] || { echo "line $n: $CODE $BODY"; stop "$PID" KILL; return 1; }
        n=$((n + 1))
    done <"$T/events.ndjson"
    stop "$PID"
    [ "$STOP_RC" = 0 ] || { echo "server exited $STOP_RC"; tail -5 "$T/$name.err"; return 1; }
}
for side in san:"$K" release:"$KR"; do
    name=${side%%:*} bin=${side#*:}
    check "${name}_server_takes_every_event" live "$name" "$bin"
    check "${name}_same_messages" cmp "$T/ref.keys" <(keys "$T/$name.db")
    check "${name}_same_notifications" cmp "$T/ref.notes" <(notes "$T/$name.db")
done
check no_sanitizer_report bash -c "! grep -l 'ERROR: AddressSanitizer\|runtime error\|assertion' $T/*.err"

echo "RESULT passed=$passed failed=$failed"
