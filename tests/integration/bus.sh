#!/usr/bin/env bash
# The NATS JetStream bus (docs/BUS.md) against a real nats-server with
# JetStream, started on a free port in a temporary directory and stopped by
# its PID: `kintsugi publish` (usage, rejected lines with place and reason,
# partitions, a bus that is not there), `kintsugi serve --bus` giving the
# incidents `kintsugi ingest` gives for the same files, a batch committed but
# never acknowledged (a crash between the two) skipped when it comes again,
# `serve` killed with -9 mid-stream and `nats-server` killed with -9 and
# restarted under load, each ending as the ingest of every event once, the
# bus's state on /healthz. Every server is stopped by its PID.
# Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/serve_lib.bash"

need_nats
check nats_server_starts nats_start

# ---- publish: usage and bad input ---------------------------------------------------
check publish_needs_bus exit_is 2 "$K" publish "$SC/wms_complete_outage/events.ndjson"
check publish_bad_url exit_is 2 "$K" publish --bus http://127.0.0.1:1 "$SC/wms_complete_outage/events.ndjson"
check publish_bad_partitions exit_is 2 "$K" publish --bus "$BUS" --partitions 0 "$SC/wms_complete_outage/events.ndjson"
check publish_missing_file exit_is 1 "$K" publish --bus "$BUS" "$T/nothing.ndjson"
check serve_bus_options_need_bus exit_is 2 "$K" serve --db "$T/x.db" --bus-stream S
no_bus() { # a port where nothing listens: exit 1, saying what
    local p
    p=$(free_port)
    "$K" publish --bus "nats://127.0.0.1:$p" "$SC/wms_complete_outage/events.ndjson" 2>"$T/nobus.err"
    [ $? -eq 1 ] && grep -q "cannot connect to the bus" "$T/nobus.err"
}
check publish_bus_down_exit_1 no_bus
# Several servers: the client gets the list (one down is tried past), the scheme said once.
server_list() {
    local p hostport=${BUS#nats://}
    p=$(free_port)
    "$K" publish --bus "nats://127.0.0.1:$p,$hostport" --stream LIST --subject list.ev --json \
        "$SC/wms_complete_outage/events.ndjson" >"$T/list.json" 2>"$T/list.err" || { cat "$T/list.err"; return 1; }
    jq -e '.not_acknowledged == 0 and .acknowledged > 0' "$T/list.json" >/dev/null
}
check publish_to_a_server_list server_list

BAD=$SC/bad_input_is_rejected_and_not_applied/events.ndjson
bad_lines() {
    "$K" publish --bus "$BUS" --stream BAD --subject bad.ev --json "$BAD" >"$T/bad.json" 2>"$T/bad.err" || return 1
    # the 16 rejected lines are published too, on bad.ev.rejected, for the server's dead letters
    jq -e '.published == 20 and .acknowledged == 20 and .rejected == 16 and .not_acknowledged == 0 and (.by_partition | add) == 4' "$T/bad.json" >/dev/null || { cat "$T/bad.json"; return 1; }
    grep -qx "$BAD:5: inventory: field \"qty\" must be an integer >= 0, got \"12\"" "$T/bad.err" || { cat "$T/bad.err"; return 1; }
    [ "$(grep -c "^$BAD:" "$T/bad.err")" -eq 16 ]
}
check publish_rejects_with_place_and_reason bad_lines

# Partitions: channel amazon goes to partition 5 of 8 (FNV-1a, tests/unit/test_bus.c).
partitions() {
    printf '%s\n' '{"type":"sync","ts":"2026-11-22T10:00:00Z","channel":"amazon","status":"ok"}' \
        '{"type":"inventory","ts":"2026-11-22T10:00:00Z","channel":"amazon","sku":"A","qty":1}' \
        '{"type":"health","ts":"2026-11-22T10:00:00Z","system":"wms","location":"berlin","status":"up"}' >"$T/p.ndjson"
    "$K" publish --bus "$BUS" --stream PARTS --subject parts.ev --json "$T/p.ndjson" >"$T/p.json" || return 1
    jq -e '.by_partition == [0,0,0,1,0,2,0,0]' "$T/p.json" >/dev/null || { cat "$T/p.json"; return 1; }
}
check publish_partitions partitions

# ---- serve --bus: what ingest gives ------------------------------------------------
# wait_committed N: until /healthz says sequence N is committed
committed() { curl -s "$URL/healthz" | jq -r '.bus.committed_seq // 0'; }
wait_committed() {
    local n=$1 i
    for i in $(seq 1 ${2:-600}); do
        [ "$(committed)" -ge "$n" ] 2>/dev/null && return 0
        sleep 0.1
    done
    echo "committed $(committed), want $n: $(curl -s "$URL/healthz")"
    return 1
}
end_input() { # as the end of a file ends ingest's input
    curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/x-ndjson' --data-binary '' "$URL/v1/events?end=true" | grep -qx 202
}
# through_bus NAME FILE [SERVE-ARGS...]: published to stream NAME, consumed by a
# server on its own database, compared with an ingest of FILE
through_bus() {
    local name=$1 file=$2 db=$T/bus-$1.db ref=$T/ref-$1.db
    shift 2
    "$K" ingest --quiet --db "$ref" "$file" >/dev/null 2>&1
    "$K" publish --bus "$BUS" --stream "$name" --subject "$name.ev" --quiet --json "$file" >"$T/pub-$name.json" || return 1
    local n
    n=$(jq .messages "$T/pub-$name.json") # the last stream sequence
    "$K" token create --name feeder --role responder --db "$db" >"$T/$name.tok" 2>/dev/null
    start "bus-$name" "$db" --clock event --update-idle 1h --bus "$BUS" --bus-stream "$name" --bus-subject "$name.ev" "$@" || return 1
    wait_committed "$n" || return 1
    end_input "$(cat "$T/$name.tok")" || return 1
    stop "$PID" TERM
    same_db "$ref" "$db" "$file"
}
n=0
for sc in wms_complete_outage sync_all_channels_p1 contain_corruption_holds_and_zeroes supplier_shortfall order_rejections complaint_spike; do
    n=$((n + 1))
    check "same_as_ingest_$sc" through_bus "SC$n" "$SC/$sc/events.ndjson" --bus-batch 7
done

# ---- bus state on /healthz ------------------------------------------------------------
health_ok() {
    start hz "$T/hz.db" --clock event --bus "$BUS" --bus-stream SC1 --bus-subject SC1.ev || return 1
    until_ok 20 sh -c "curl -s '$URL/healthz' | jq -e '.status == \"ok\" and .bus.state == \"consuming\" and .bus.stream == \"SC1\" and .bus.consumer == \"kintsugi\"'"
    local rc=$?
    stop "$PID" TERM
    return $rc
}
check healthz_shows_the_bus health_ok

# ---- a batch committed, its acknowledgements lost ------------------------------------
# KINTSUGI_BUS_DROP_ACKS=2: the first two batches are committed but not
# acknowledged (as if the process died in between); JetStream delivers them
# again after the ack wait, and they are skipped, not applied twice.
# Every fault, schema-change too: its rejected lines go on the stream's
# PREFIX.rejected subject and the server dead-letters them, as ingest does.
LOAD=$T/load.ndjson
"$K" simulate --seed 11 --duration 20h --skus 200 --out "$LOAD" --fault all 2>/dev/null
head -3000 "$LOAD" >"$T/small.ndjson"
lost_acks() {
    local db=$T/acks.db ref=$T/acks-ref.db
    "$K" ingest --quiet --db "$ref" "$T/small.ndjson" >/dev/null 2>&1
    "$K" publish --bus "$BUS" --stream ACKS --subject acks.ev --lines-per-message 1 --quiet "$T/small.ndjson" || return 1
    "$K" token create --name feeder --role responder --db "$db" >"$T/acks.tok" 2>/dev/null
    KINTSUGI_BUS_DROP_ACKS=2 start acks "$db" --clock event --update-idle 1h --bus "$BUS" \
        --bus-stream ACKS --bus-subject acks.ev --bus-batch 500 --bus-ack-wait 1s || return 1
    wait_committed 3000 || return 1
    # The two batches left unacknowledged (each of at most 500 messages: a
    # fetch takes what the server hands over within its wait) come again
    # after the 1 s ack wait and are skipped, not applied again.
    until_ok 20 sh -c "curl -s '$URL/healthz' | jq -e '.bus.redelivered_skipped >= 2'" || return 1
    sleep 2
    curl -s "$URL/healthz" | jq -e '.bus.applied == 3000' >/dev/null || { curl -s "$URL/healthz"; return 1; }
    end_input "$(cat "$T/acks.tok")" || return 1
    stop "$PID" TERM
    same_db "$ref" "$db" "$T/small.ndjson"
}
check redelivered_after_commit_skipped lost_acks

# ---- kill -9 of serve mid-stream -------------------------------------------------------
"$K" ingest --quiet --db "$T/load-ref.db" "$LOAD" >/dev/null 2>&1
"$K" publish --bus "$BUS" --stream LOAD --subject load.ev --quiet --json "$LOAD" >"$T/load.json" 2>"$T/load.err"
# every line published (events of one partition share a message: fewer messages)
check load_published jq -e --argjson n "$(grep -c . "$LOAD")" '.published == $n and .acknowledged == $n and .messages < $n / 2' "$T/load.json"
NLOAD=$(jq .messages "$T/load.json") # the last stream sequence
KDB=$T/kill.db
"$K" token create --name feeder --role responder --db "$KDB" >"$T/kill.tok" 2>/dev/null
LOADARGS=(--clock event --update-idle 1h --bus "$BUS" --bus-stream LOAD --bus-subject load.ev --bus-batch 10)
kill_serve() { # round: killed with -9 once something and not everything is committed
    start "kill$1" "$KDB" "${LOADARGS[@]}" || return 1
    local c0 c
    c0=$(committed)
    for _ in $(seq 1 300); do
        c=$(committed)
        [ "$c" -gt "$c0" ] && break
        sleep 0.02
    done
    sleep "0.$((RANDOM % 5))"
    c=$(committed)
    kill -9 "$PID"
    wait "$PID" 2>/dev/null
    echo "round $1: killed at committed sequence $c of $NLOAD" >>"$T/kills"
    [ "$c" -lt "$NLOAD" ] || { echo "the stream was done before the kill ($c)"; return 1; }
}
check kill9_serve_round_1 kill_serve 1
check kill9_serve_round_2 kill_serve 2
after_kills() {
    start kill3 "$KDB" "${LOADARGS[@]}" || return 1
    wait_committed "$NLOAD" 1200 || return 1
    end_input "$(cat "$T/kill.tok")" || return 1
    stop "$PID" TERM
    same_db "$T/load-ref.db" "$KDB" "$LOAD"
}
check after_kill9_same_as_ingest after_kills
# the dead letters of the schema change, once each, as ingest has them
same_dead_letters() {
    local a b
    a=$("$K" deadletters --db "$T/load-ref.db" --json | jq -c '[.[] | {reason, raw}]')
    b=$("$K" deadletters --db "$KDB" --json | jq -c '[.[] | {reason, raw}]')
    [ "$(jq length <<<"$a")" -gt 0 ] && [ "$a" = "$b" ] || { echo "${a:0:300}"; echo "${b:0:300}"; return 1; }
}
check kill9_dead_letters_once_as_ingest same_dead_letters

# ---- nats-server killed with -9 and restarted under load ------------------------------
NDB=$T/nats-kill.db
"$K" token create --name feeder --role responder --db "$NDB" >"$T/nk.tok" 2>/dev/null
"$K" publish --bus "$BUS" --stream NKILL --subject nkill.ev --quiet "$LOAD" 2>/dev/null || echo "publish NKILL failed"
bus_restart() {
    start nk "$NDB" --clock event --update-idle 1h --bus "$BUS" --bus-stream NKILL --bus-subject nkill.ev --bus-batch 10 || return 1
    until_ok 30 sh -c "[ \$(curl -s '$URL/healthz' | jq '.bus.committed_seq') -gt 0 ]" || return 1
    nats_kill
    local c
    c=$(committed)
    echo "nats-server killed at committed sequence $c of $NLOAD" >>"$T/kills"
    # the server goes on, says the bus is down, on /healthz and in its log
    until_ok 20 sh -c "curl -s '$URL/healthz' | jq -e '.status == \"degraded\" and .bus.state == \"disconnected\" and (.bus.error | length > 0)'" || return 1
    status_is 200 GET /readyz "" || return 1
    sleep 1
    nats_start || return 1
    wait_committed "$NLOAD" 1200 || return 1
    until_ok 20 sh -c "curl -s '$URL/healthz' | jq -e '.status == \"ok\"'" || return 1
    end_input "$(cat "$T/nk.tok")" || return 1
    stop "$PID" TERM
    grep -q 'mod=bus.*disconnected' "$T/nk.err" || { echo "no log line"; return 1; }
    same_db "$T/load-ref.db" "$NDB" "$LOAD"
}
# on failure, the end of the server's log too
bus_restart_said() { bus_restart && return 0; echo "the server's log ends:"; tail -8 "$T/nk.err"; return 1; }
check nats_kill9_restart_under_load bus_restart_said
sed 's/^/    /' "$T/kills" 2>/dev/null

nats_kill
echo "RESULT passed=$passed failed=$failed"
