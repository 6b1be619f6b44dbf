#!/usr/bin/env bash
# The same answer at any scale (docs/DEPLOY.md, "Three instances"): one
# simulated shop with every fault (sync stalls of one and of every channel,
# corruptions, WMS outages of one and of every location, order rejections,
# supplier shortfalls, a complaint spike, a schema change whose rejected
# lines travel on the stream's PREFIX.rejected subject, a metric drop) taken
#   1. by `kintsugi ingest` into SQLite (the reference),
#   2. by one `kintsugi serve --bus` on PostgreSQL,
#   3. by three `kintsugi serve --bus` sharing one PostgreSQL schema over
#      JetStream: one active, two standbys; the active is killed with -9
#      midway, a standby takes over, the killed one is started again (a
#      standby now), and the new active is stopped near the end so that the
#      last one finishes the stream,
# gives the same incidents (type, subject, severities, instants, every
# field), none twice, the same guard and the same guarded feed per channel.
# Real nats-server and PostgreSQL processes, started here (or the run's
# PostgreSQL: KS_TEST_PG_URI) and stopped by PID.
# KS_SCALE_SEED picks another simulated shop (default 23).
# Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/serve_lib.bash"
. "$(dirname "$0")/pg_lib.bash"

need_nats
pg_server
check nats_server_starts nats_start

SEED=${KS_SCALE_SEED:-23}
LOAD=$T/shop.ndjson
"$K" simulate --seed "$SEED" --duration 20h --skus 200 --out "$LOAD" --fault all 2>/dev/null
N=$(grep -c . "$LOAD")
echo "    shop: seed $SEED, $N events"

# Messages on: the team and the customers through a directory receiver each
# instance writes to, so that the outbox is compared too.
mkdir -p "$T/box"
printf 'receivers:\n  box: {dir: "%s"}\nnotify: {team: [box], leadership: [box], customer: [box]}\n' \
    "$T/box" >"$T/scale.yaml"

# 1. the reference: one process, SQLite, the file
REF=$T/ref.db
check ingest_reference "$K" ingest --quiet --config "$T/scale.yaml" --db "$REF" "$LOAD"

# What is compared: the incidents (list and each one; hook attempts, which
# carry the wall clock, left out), the guard, the guarded feed per channel,
# the dead letters (reason and raw line).
view() { # DB: everything compared, the ingest's source named as the bus's
    local db=$1 ch
    incidents_view "$db" "$("$K" incidents --db "$REF" --json | jq length)"
    for ch in amazon ebay shopify walmart; do "$K" feed "$ch" --db "$db" --json; done
    "$K" deadletters --db "$db" --json | jq -c '[.[] | {reason, raw, status}]'
}
view "$REF" | sed "s#file:$LOAD#http#g" >"$T/ref.view"
check reference_has_incidents [ "$("$K" incidents --db "$REF" --json | jq length)" -ge 10 ]
same_as_ref() { # DB
    # hook calls the servers had not taken when they stopped are taken here,
    # as the reference's ingest took them after its input
    "$K" hooks deliver --wait 0 --config "$T/scale.yaml" --db "$1" >/dev/null 2>&1
    view "$1" >"$T/got.view"
    diff "$T/ref.view" "$T/got.view" >"$T/diff" || { head -20 "$T/diff"; return 1; }
}
# none twice: as many incidents as the reference, each (fingerprint, detection instant) once
none_twice() { # DB
    "$K" incidents --db "$1" --json | jq -e --argjson n "$("$K" incidents --db "$REF" --json | jq length)" \
        'length == $n and ([.[] | [.fingerprint, .detected_at]] | unique | length) == $n' >/dev/null
}

"$K" publish --bus "$BUS" --quiet --json "$LOAD" >"$T/pub.json" 2>"$T/pub.err"
check publish_everything jq -e --argjson n "$N" '.acknowledged == $n and .rejected > 0' "$T/pub.json"
N=$(jq .messages "$T/pub.json") # from here on: the last stream sequence

committed() { curl -s "$1/healthz" | jq -r '.bus.committed_seq // 0'; }
wait_committed() { # URL N
    local i
    for i in $(seq 1 1200); do
        [ "$(committed "$1")" -ge "$2" ] 2>/dev/null && return 0
        sleep 0.1
    done
    echo "committed $(committed "$1"), want $2"
    return 1
}
end_input() { # URL TOKEN: the end of the input, as the end of a file ends ingest's
    curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" \
        -H 'Content-Type: application/x-ndjson' --data-binary '' "$1/v1/events?end=true" | grep -qx 202
}
ARGS=(--clock event --update-idle 1h --bus "$BUS" --bus-batch 10 --config "$T/scale.yaml")

# 2. one instance on PostgreSQL
ONE=$(pg_schema "scale_$$_one")
one_pg() {
    "$K" token create --name feeder --role responder --db "$ONE" >"$T/one.tok" 2>/dev/null || return 1
    start one "$ONE" "${ARGS[@]}" --bus-consumer one || return 1
    wait_committed "$URL" "$N" || return 1
    end_input "$URL" "$(cat "$T/one.tok")" || return 1
    stop "$PID" TERM
}
check one_instance_postgres_runs one_pg
check one_instance_postgres_same_as_sqlite same_as_ref "$ONE"
check one_instance_postgres_none_twice none_twice "$ONE"

# 3. three instances sharing PostgreSQL, one killed midway
THREE=$(pg_schema "scale_$$_three")
"$K" token create --name feeder --role responder --db "$THREE" >"$T/three.tok" 2>/dev/null
launch() { # NAME: a server in the background; its stderr in $T/NAME.err
    "$K" serve --listen 127.0.0.1:0 --db "$THREE" "${ARGS[@]}" --bus-consumer three 2>"$T/$1.err" &
    eval "PID_$1=$!"
    PIDS+=("$!")
}
url_of() { sed -n 's/^listening on //p' "$T/$1.err" | head -1; }
is_standby() { grep -q '^kintsugi: standby: .* is owned by pid [0-9]* (kintsugi serve at http' "$T/$1.err"; }
# the one of NAMES... that listens (the active one) in ACTIVE, within 30 s
which_active() {
    local i n
    ACTIVE=""
    for i in $(seq 1 300); do
        for n in "$@"; do
            [ -n "$(url_of "$n")" ] && { ACTIVE=$n; return 0; }
        done
        sleep 0.1
    done
    echo "none of $* took over"; for n in "$@"; do echo "-- $n"; cat "$T/$n.err"; done
    return 1
}
three_start() {
    launch a
    which_active a || return 1
    launch b
    launch c
    until_ok 20 is_standby b && until_ok 20 is_standby c
}
check three_one_active_two_standbys three_start
# the standbys answer /healthz (200, standby, who is active) and /readyz (503)
# only, on their own address, until they take over
standby_url() { sed -n 's/^kintsugi: standby: .* this server (\(http[^)]*\)) answers.*/\1/p' "$T/$1.err" | head -1; }
standby_answers() {
    local n u h
    for n in b c; do
        [ -z "$(url_of "$n")" ] || { echo "$n listens as the active one"; return 1; }
        u=$(standby_url "$n")
        h=$(curl -s -w ' %{http_code}' "$u/healthz")
        [[ "$h" == '{"status":"standby","active":"pid '*'(kintsugi serve at '"$(url_of a)"', since '*'"} 200' ]] || { echo "$n /healthz: $h"; return 1; }
        h=$(curl -s -w ' %{http_code}' "$u/readyz")
        [[ "$h" == '{"error":{"code":"standby","message":"standby: the database is owned by pid '*' 503' ]] || { echo "$n /readyz: $h"; return 1; }
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$u/v1/incidents")" = 503 ] || return 1
        [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary x "$u/v1/events")" = 503 ] || return 1
    done
    # the URI (and a password in it) is never in an answer
    ! curl -s "$(standby_url b)/healthz" "$(standby_url b)/readyz" | grep -q postgres
}
check standbys_answer_health_only standby_answers
kill_active_midway() {
    local u c0 c
    u=$(url_of a)
    # somewhere in the second quarter of the stream
    c0=$((N / 4 + RANDOM % (N / 4)))
    for _ in $(seq 1 3000); do
        c=$(committed "$u")
        [ "$c" -ge "$c0" ] && break
        sleep 0.01
    done
    c=$(committed "$u")
    kill -9 "$PID_a"; wait "$PID_a" 2>/dev/null
    KILLED_NS=$(date +%s%N)
    echo "    a killed at committed sequence $c of $N" >>"$T/story"
    [ "$c" -gt 0 ] && [ "$c" -lt "$N" ] || { echo "killed at $c of $N: not midway"; return 1; }
}
check kill9_active_midway kill_active_midway
takeover() {
    which_active b c || return 1
    local ms=$((($(date +%s%N) - KILLED_NS) / 1000000))
    [ "$(url_of "$ACTIVE")" = "$(standby_url "$ACTIVE")" ] || { echo "not on its standby address"; return 1; }
    grep -q "^kintsugi: taking over" "$T/$ACTIVE.err" || { cat "$T/$ACTIVE.err"; return 1; }
    echo "    $ACTIVE took over, listening ${ms} ms after the kill" >>"$T/story"
}
check a_standby_takes_over takeover
SECOND=$ACTIVE
LAST=b
[ "$SECOND" = b ] && LAST=c
restart_killed() { # a again: a standby of the new active
    launch a
    until_ok 20 is_standby a
}
check killed_instance_comes_back_as_standby restart_killed
# the standby left from the start names the active server of now, not the
# killed one it found at its start
names_new_active() {
    local h
    h=$(curl -s "$(standby_url "$LAST")/healthz")
    [[ "$h" == *"(kintsugi serve at $(url_of "$SECOND"), since "* ]] || { echo "$LAST: $h"; return 1; }
    grep -q "^kintsugi: standby: .* is owned by pid [0-9]* (kintsugi serve at $(url_of "$SECOND"), since .* now$" "$T/$LAST.err"
}
check standby_names_the_new_active until_ok 15 names_new_active
# the standbys left stop on SIGTERM at once, exit 0, without taking over
standby_stops() {
    local p n
    for n in a b c; do
        [ "$n" = "$ACTIVE" ] && continue
        eval "p=\$PID_$n"
        kill -0 "$p" 2>/dev/null || continue
        kill -TERM "$p"
        wait "$p"
        [ $? -eq 0 ] || { echo "$n: exit $?"; return 1; }
        grep -q "standby stopped before taking over" "$T/$n.err" || { cat "$T/$n.err"; return 1; }
    done
}
# the new active goes on from the committed position; near the end it is
# stopped, and the last standby finishes the stream
second_then_last() {
    local u
    u=$(url_of "$SECOND")
    wait_committed "$u" $((N * 3 / 4)) || return 1
    echo "    $SECOND stopped with SIGTERM at committed sequence $(committed "$u")" >>"$T/story"
    eval "kill -TERM \$PID_$SECOND; wait \$PID_$SECOND 2>/dev/null"
    which_active "$LAST" a || return 1
    echo "    $ACTIVE took over" >>"$T/story"
    u=$(url_of "$ACTIVE")
    wait_committed "$u" "$N" || return 1
    end_input "$u" "$(cat "$T/three.tok")" || return 1
    standby_stops || return 1
    eval "kill -TERM \$PID_$ACTIVE; wait \$PID_$ACTIVE 2>/dev/null"
}
check three_instances_finish_the_stream second_then_last
cat "$T/story" 2>/dev/null
check three_instances_same_as_sqlite same_as_ref "$THREE"
check three_instances_none_twice none_twice "$THREE"
# every message of the outbox once (its idempotency key and receiver), and some
messages_once() {
    "$K" messages --db "$THREE" --json | jq -e 'length > 0 and ([.[] | [.idempotency_key, .receiver]] | length) == ([.[] | [.idempotency_key, .receiver]] | unique | length)' >/dev/null
}
check three_instances_messages_once messages_once
# the same messages (who is told of what) as the single instance on PostgreSQL
# and as the reference; their text is rendered when the shell looks (docs/DURABILITY.md);
# not their keys, which carry each database's id
msgs() { "$K" messages --db "$1" --json | jq -c '[.[] | {incident, kind, audience, recipient, receiver}] | sort_by(.incident, .kind, .audience, .recipient, .receiver)'; }
same_messages() { # DB
    msgs "$REF" >"$T/m0"
    msgs "$1" >"$T/m1"
    diff "$T/m0" "$T/m1" | head -5
    cmp -s "$T/m0" "$T/m1"
}
check one_instance_same_messages same_messages "$ONE"
check three_instances_same_messages same_messages "$THREE"

echo "RESULT passed=$passed failed=$failed"
