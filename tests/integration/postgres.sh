#!/usr/bin/env bash
# The PostgreSQL store end to end (--db postgresql://...), on the server that
# scripts/run-tests.sh started (KS_TEST_PG_URI), or on one this script starts
# and stops itself (scripts/pg-test.sh): every scenario ingested into SQLite
# and into PostgreSQL reads back the same bytes (incidents, each incident,
# guard, dead letters, hooks, report, feed); a second ingest resumes; two
# writers wait for each other; `kintsugi serve` on PostgreSQL takes events
# over HTTP and gives what ingest gives, keeps what it acknowledged across
# kill -9, takes up again a database connection that was lost, and continues
# after a restart. Each test takes its own schema. (PostgreSQL itself
# restarted under load: pg_restart.sh.)
# Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/serve_lib.bash"
. "$(dirname "$0")/pg_lib.bash"

pg_server
nschema=0
# fresh: a URI on a new empty schema (in FRESH; no subshell, so the count holds)
fresh() {
    nschema=$((nschema + 1))
    FRESH=$(pg_schema "it_$$_$nschema")
}

# Everything a reader sees of a database, in one stream.
dump() {
    local db=$1 n i ch
    "$K" incidents --db "$db" --json
    n=$("$K" incidents --db "$db" --json | grep -o '"id":[0-9]*' | wc -l)
    for i in $(seq 1 "$n"); do "$K" incident show "$i" --db "$db" --json; done
    "$K" guard status --db "$db" --json
    # received_at is the wall clock of the run
    "$K" deadletters --db "$db" --json | sed -E 's/"received_at":"[^"]*"/"received_at":"-"/g'
    # the key a call is sent with starts with the database's own id
    "$K" hooks --db "$db" --json | sed -E 's/"idempotency_key":"[0-9a-f]{32}-/"idempotency_key":"DBID-/g'
    "$K" report --db "$db" --json
    for ch in amazon shopify ebay; do "$K" feed "$ch" --db "$db" --json 2>&1; done
}

# ---- the same bytes from both backends ---------------------------------------------
same_on_both() { # scenario
    local sc=$SC/$1 a=$T/$1.db ra rb
    fresh
    local b=$FRESH
    "$K" ingest --quiet --db "$a" "$sc/events.ndjson" >"$T/ia" 2>&1
    ra=$?
    "$K" ingest --quiet --db "$b" "$sc/events.ndjson" >"$T/ib" 2>&1
    rb=$?
    [ "$ra" = "$rb" ] || { echo "exit $ra on SQLite, $rb on PostgreSQL"; cat "$T/ib"; return 1; }
    dump "$a" >"$T/a"
    dump "$b" >"$T/b"
    [ -s "$T/a" ] || return 1
    diff "$T/a" "$T/b" >/dev/null || { diff "$T/a" "$T/b" | head -8; return 1; }
}
# A spread of scenarios: containment and its feed, rejected input, grouping,
# the clock's horizon, reviews' timestamps, orders and suppliers.
for sc in bad_input_is_rejected_and_not_applied contain_corruption_rollback_then_release \
    contain_corruption_holds_and_zeroes contain_outage_complete contain_supplier_branches \
    corruption_all_channels_p1 far_future_ts_is_rejected feed_rejects grouping_boundaries \
    order_rejections resolve_then_repeat volume_drop_after_a_long_silence; do
    check "same_on_both_$sc" same_on_both "$sc"
done

# A simulated day with every fault, large enough for many checkpoints and
# dictionary pages, and then the same file again: nothing new is applied.
"$K" simulate --seed 5 --duration 30h --skus 3000 --fault all --out "$T/sim.ndjson" 2>/dev/null
fresh
SIM=$FRESH
check sim_same_on_both sh -c "'$K' ingest --quiet --db '$T/sim.db' '$T/sim.ndjson' >/dev/null 2>&1;
    '$K' ingest --quiet --db '$SIM' '$T/sim.ndjson' >/dev/null 2>&1;
    '$K' incidents --db '$T/sim.db' --json >'$T/s1'; '$K' incidents --db '$SIM' --json >'$T/s2';
    [ \$(wc -c <'$T/s1') -gt 100 ] && cmp -s '$T/s1' '$T/s2'"
check second_ingest_changes_nothing sh -c "'$K' ingest --quiet --db '$SIM' '$T/sim.ndjson' >/dev/null 2>&1;
    '$K' incidents --db '$SIM' --json | cmp -s - '$T/s1'"

# ---- the writer lock is the database's ------------------------------------------------
fresh
LK=$FRESH
"$K" ingest --quiet --db "$LK" "$SC/contain_corruption_rollback_then_release/events.ndjson" >/dev/null 2>&1
# a writer holding the lock: a stdin ingest that waits for its input
mkfifo "$T/fifo"
"$K" ingest --quiet --db "$LK" - <"$T/fifo" >/dev/null 2>&1 &
HOLDER=$!
PIDS+=("$HOLDER")
exec 9>"$T/fifo"
sleep 1
second_writer_waits() {
    "$K" guard pause amazon --by test --db "$LK" >/dev/null 2>"$T/wait.err" 9>&- &
    local w=$!
    sleep 1.5
    kill -0 "$w" 2>/dev/null || { echo "did not wait"; cat "$T/wait.err"; return 1; }
    grep -q "is being written by pid $HOLDER" "$T/wait.err" || { cat "$T/wait.err"; return 1; }
    exec 9>&- # the holder's input ends: it finishes, the second writer goes on
    wait "$w"
}
check second_writer_waits_for_the_first second_writer_waits
wait "$HOLDER" 2>/dev/null

# ---- kintsugi serve on PostgreSQL ---------------------------------------------------------
post() { # FILE [QUERY]: prints the status
    curl -s -o "$T/pb" -w '%{http_code}' -H "Authorization: Bearer $TOK" \
        -H 'Content-Type: application/x-ndjson' --data-binary @"$1" "$URL/v1/events${2:-}"
}

fresh
SV=$FRESH
"$K" token create --name feeder --role responder --db "$SV" >"$T/tok" 2>/dev/null
TOK=$(cat "$T/tok")
check token_on_postgres [ ${#TOK} -eq 46 ]
check serve_starts_on_postgres start sv "$SV" --clock event
check readyz sh -c "curl -s -o /dev/null -w '%{http_code}' '$URL/readyz' | grep -q 200"
EV=$SC/contain_corruption_rollback_then_release/events.ndjson
split -l 5 "$EV" "$T/part-"
LAST=$(ls "$T/part-"* | tail -1)
for f in "$T/part-"*; do
    post "$f" "$([ "$f" = "$LAST" ] && echo '?end=true')"
    echo
done >"$T/codes"
check every_batch_202 [ "$(sort -u "$T/codes")" = 202 ]
check cli_writer_refused_while_serving sh -c "! '$K' guard pause amazon --by x --db '$SV' 2>'$T/refused' && grep -q 'kintsugi serve at $URL' '$T/refused'"
kill -9 "$PID"
wait "$PID" 2>/dev/null
# What was acknowledged before kill -9 is there after a restart (the journal).
check restarts_after_kill start sv2 "$SV" --clock event
kill -TERM "$PID"
wait "$PID" 2>/dev/null
"$K" ingest --quiet --db "$T/ref.db" "$EV" >/dev/null 2>&1
same_as_ingest() { same_db "$T/ref.db" "$SV" "$EV"; }
check serve_on_postgres_gives_what_ingest_gives same_as_ingest

# Connection lost under an idle server (its sessions ended by PostgreSQL):
# the next transaction and the next read start on new connections, the
# writer lock taken again first, so the next request is taken as if nothing
# happened; nothing acknowledged is lost. (The database away for a while,
# requests answered 503 meanwhile: pg_restart.sh.)
check serve_again start sv3 "$SV" --clock event
printf '%s\n' '{"id":"x1","type":"sync","ts":"2026-11-23T10:00:00Z","channel":"amazon","status":"ok"}' >"$T/one"
printf '%s\n' '{"id":"x2","type":"sync","ts":"2026-11-23T10:00:01Z","channel":"amazon","status":"ok"}' >"$T/two"
check accepted_before_loss [ "$(post "$T/one")" = 202 ]
pg_sql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'kintsugi' AND pid <> pg_backend_pid()" >/dev/null
sleep 0.3
taken_after_loss() {
    local code
    code=$(post "$T/two")
    [ "$code" = 202 ] && jq -e '.accepted == 1' "$T/pb" >/dev/null || { echo "got $code: $(cat "$T/pb")"; return 1; }
}
check taken_after_connection_loss taken_after_loss
check writer_lock_taken_again grep -q 'reconnected to PostgreSQL and took the writer lock again' "$T/sv3.err"
check same_process_after_loss kill -0 "$PID"
check ready_after_loss sh -c "curl -s -o /dev/null -w '%{http_code}' '$URL/readyz' | grep -q 200"
kill -TERM "$PID"
wait "$PID"
check clean_stop_after_loss [ $? -eq 0 ]
check restart_after_loss start sv4 "$SV" --clock event
both_kept() {
    local f
    for f in "$T/one" "$T/two"; do
        [ "$(post "$f")" = 202 ] && jq -e '.duplicates == 1' "$T/pb" >/dev/null || { cat "$T/pb"; return 1; }
    done
}
check acknowledged_events_kept both_kept
kill -TERM "$PID"
wait "$PID" 2>/dev/null

# An active server and a standby, both sessions ended by PostgreSQL while
# nothing is written: the standby waits on (it does not exit) and one of the
# two takes the lock; the quiet active one finds out within a few seconds
# (it checks its session holds the lock) - taking it again, or exiting 1 as
# fenced if the standby got it first - so that never two answer /readyz 200.
check fence_active_starts start fa "$SV" --clock event
FA=$PID
"$K" serve --listen 127.0.0.1:0 --db "$SV" --clock event 2>"$T/fb.err" &
FB=$!
PIDS+=("$FB")
fb_standby() { grep -q '^kintsugi: standby: .* is owned by pid [0-9]* (kintsugi serve at http' "$T/fb.err"; }
check fence_standby_waits until_ok 20 fb_standby
FB_URL=$(sed -n 's/^kintsugi: standby: .* this server (\(http[^)]*\)) answers.*/\1/p' "$T/fb.err" | head -1)
pg_sql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'kintsugi' AND pid <> pg_backend_pid()" >/dev/null
ready_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1/readyz" 2>/dev/null; }
one_ready() { # exactly one of the two answers /readyz 200, three times over 3 s
    local k a b
    for k in 1 2 3; do
        a=$(kill -0 "$FA" 2>/dev/null && ready_code "$URL")
        b=$(kill -0 "$FB" 2>/dev/null && ready_code "$FB_URL")
        [ "$a$b" = 200 ] || [ "$a$b" = 200503 ] || [ "$a$b" = 503200 ] || { echo "active $a, standby $b"; return 1; }
        sleep 1
    done
}
check fence_never_two_ready until_ok 15 one_ready
# whichever holds the lock: the other is a standby still waiting, or the old
# active gone (exit 1, fenced) - never a standby gone with its connection
fence_outcome() {
    if kill -0 "$FA" 2>/dev/null; then
        kill -0 "$FB" && [ "$(ready_code "$FB_URL")" = 503 ] || { echo "standby gone or ready"; cat "$T/fb.err"; return 1; }
    else
        wait "$FA"
        [ $? = 1 ] && grep -q 'another process holds the writer lock now' "$T/fa.err" && grep -q "^kintsugi: taking over" "$T/fb.err" || { cat "$T/fa.err" "$T/fb.err"; return 1; }
    fi
}
check fence_outcome fence_outcome
kill -TERM "$FA" "$FB" 2>/dev/null
wait "$FA" "$FB" 2>/dev/null

# No server there: a clear error and exit 1, the password never shown.
check unreachable_server_exit_1 exit_is 1 "$K" incidents --db "postgresql://kintsugi:s3cret@127.0.0.1:1/ks"
check unreachable_server_message sh -c "'$K' incidents --db 'postgresql://kintsugi:s3cret@127.0.0.1:1/ks' 2>&1 | grep -q 'connect to PostgreSQL (database ks on 127.0.0.1 port 1)' && ! '$K' incidents --db 'postgresql://kintsugi:s3cret@127.0.0.1:1/ks' 2>&1 | grep -q s3cret"

# A URI libpq cannot take is a usage error (exit 2) naming what is wrong,
# never showing the password, and tried on no server.
check bad_uri_parameter_exit_2 exit_is 2 "$K" incidents --db "postgresql://kintsugi@127.0.0.1:1/ks?colour=red"
check bad_uri_parameter_named sh -c "'$K' incidents --db 'postgresql://kintsugi@127.0.0.1:1/ks?colour=red' 2>&1 | grep -q 'not a PostgreSQL URI libpq takes: invalid URI query parameter: \"colour\"'"
check bad_uri_port_exit_2 exit_is 2 "$K" incidents --db "postgresql://kintsugi@127.0.0.1:99999/ks"
check bad_uri_port_named sh -c "'$K' incidents --db 'postgresql://kintsugi@127.0.0.1:99999/ks' 2>&1 | grep -qF \"port '99999' is not a TCP port (1 to 65535)\""
check bad_uri_password_not_shown sh -c "out=\$('$K' incidents --db 'postgresql://kintsugi:s3cr%zzet@127.0.0.1:1/ks' 2>&1); echo \"\$out\" | grep -q 'invalid percent-encoded token: (in the user or password, not shown)' && ! echo \"\$out\" | grep -q s3cr"

pg_sql -c "DO \$\$ DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace WHERE nspname LIKE 'it\\_$$\\_%' LOOP EXECUTE 'DROP SCHEMA ' || s || ' CASCADE'; END LOOP; END \$\$" >/dev/null 2>&1
echo "RESULT passed=$passed failed=$failed"
