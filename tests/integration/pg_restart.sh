#!/usr/bin/env bash
# PostgreSQL restarted under load (docs/DURABILITY.md): `kintsugi serve
# --db postgresql://...` takes batches of events (crash/client.py: each
# request sent until it is acknowledged) while its PostgreSQL server - one of
# its own, started here by scripts/pg-test.sh - is stopped as a crash would
# (pg_ctl stop -m immediate) and started again on the same data and port,
# KS_PG_RESTARTS times (2 here, 10 under `make torture`). What must hold:
#   - during an outage requests get 503 with the reason (never a 2xx, never a
#     hang) and /readyz says the store is unavailable;
#   - the server takes the database up again by itself, without a restart
#     (one process from start to end, the writer lock taken again each time);
#   - every request was acknowledged once, whole, and the store holds exactly
#     what `kintsugi ingest` of the same requests into SQLite makes (the same
#     incidents, guarded feed, hook and message rows: nothing acknowledged
#     lost, nothing doubled), and every hook and message was delivered.
# Then fencing: PostgreSQL restarted while a server is idle, a second server
# takes the writer lock meanwhile; the first one's next request is 503, it
# finds the lock taken, writes nothing and exits 1.
# Prints "RESULT passed=N failed=M" and a summary line "pg_restart: ...".
set -u
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/load_lib.bash"
. "$(dirname "$0")/pg_lib.bash"
RESTARTS=${KS_PG_RESTARTS:-2}
PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/ks-pgr-XXXXXX")
SPID= RPID= CPID= BPID=
cleanup() {
    for p in $CPID $SPID $BPID $RPID; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    if [ -n "${KEEP:-}" ]; then # the server's store too, as the CLI reads it
        "$K" incidents --json --db "$DB" >"$T/pg.incidents" 2>&1
        "$K" feed amazon --json --db "$DB" >"$T/pg.feed" 2>&1
        "$K" hooks --json --db "$DB" >"$T/pg.hooks" 2>&1
        cp -r "$T" "$KEEP"
    fi
    bash scripts/pg-test.sh stop "$PGDIR"
    rm -rf "$T"
}
trap cleanup EXIT
# synchronous_commit on (PostgreSQL's default): an acknowledged commit is in
# the server's WAL on disk (or the OS's cache), so a crash of the server
# keeps it. (fsync off: the machine does not crash here.)
PG_SYNC_COMMIT=on pg_start "$PGDIR"
DB=$PG_URI

# ---- receivers, configuration, load (as crash.sh) -------------------------------------
load_config
ROUNDS=${KS_PG_ROUNDS:-$((RESTARTS * 4 + 4))}
load_make
"$K" token create --name load --role responder --db "$DB" >"$T/tok" 2>"$T/tok.err"
check token_made [ -s "$T/tok" ]
TOK=$(cat "$T/tok")

start() { # NAME: a server on a free port; sets URL and its PID in the variable NAME
    local name=$1 pid
    "$K" serve --listen 127.0.0.1:0 --clock event --config "$T/k.yaml" --db "$DB" \
        2>"$T/$name.log" &
    pid=$!
    printf -v "$name" '%s' "$pid"
    URL=""
    for _ in $(seq 1 600); do
        URL=$(sed -n 's/^listening on //p' "$T/$name.log" | head -1)
        [ -n "$URL" ] && curl -sf "$URL/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "server $name did not start:"
    cat "$T/$name.log"
    return 1
}
readyz() { curl -s -o "$T/readyz" -w '%{http_code}' --max-time 10 "$URL/readyz"; }

# ---- the load, PostgreSQL crashed and started again under it ----------------------------
check serve_starts start SPID
SURL=$URL
: >"$T/acks"
: >"$T/tries"
python3 "$D/client.py" "$URL" "$TOK" "$T/req" "$T/acks" "$T/tries" 2>"$T/client.err" &
CPID=$!
ready503=0 down_ms=0 said=0
for r in $(seq 1 "$RESTARTS"); do
    # (and some acknowledged since the last restart: the server is back)
    target=$((NREQ * r / (RESTARTS + 1)))
    [ "$target" -lt $((${last:-0} + 10)) ] && target=$((${last:-0} + 10))
    while [ "$(acked)" -lt "$target" ] && kill -0 "$CPID" 2>/dev/null; do sleep 0.02; done
    t0=$(date +%s%N)
    bash scripts/pg-test.sh crash "$PGDIR"
    sleep 0.5
    code=$(readyz)
    [ "$code" = 503 ] && grep -q '"not_ready".*the store is unavailable' "$T/readyz" &&
        ready503=$((ready503 + 1))
    cp "$T/readyz" "$T/readyz.$r"
    # a request now: 503 with the reason (request 0 again: all duplicates were it taken)
    code=$(curl -s -o "$T/down.$r" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $TOK" \
        -H 'Content-Type: application/x-ndjson' --data-binary @"$T/req/req-000000.ndjson" "$URL/v1/events")
    [ "$code" = 503 ] && grep -q '"unavailable".*PostgreSQL' "$T/down.$r" && said=$((said + 1))
    sleep 1.5
    bash scripts/pg-test.sh up "$PGDIR"
    down_ms=$((down_ms + ($(date +%s%N) - t0) / 1000000))
    last=$(acked)
    echo "restart $r after $last acknowledgements" >>"$T/restarts.log"
done
wait "$CPID"
crc=$?
CPID=
check client_done [ "$crc" -eq 0 ]
check every_restart_done [ "$(wc -l <"$T/restarts.log")" -eq "$RESTARTS" ]
check readyz_503_while_down_says_why [ "$ready503" -eq "$RESTARTS" ]
# during an outage: 503 (the writer's, or the token check's), never another code
check only_202_or_503 awk '$2 != 202 && $2 != 503 { print; bad = 1 } END { exit bad }' "$T/tries"
N503=$(awk '$2 == 503' "$T/tries" | wc -l)
check outages_answered_503 [ "$N503" -ge "$RESTARTS" ]
check answers_503_say_why [ "$said" -eq "$RESTARTS" ]
MAXS=$(awk '$3 > m { m = $3 } END { print m + 0 }' "$T/tries")
check no_answer_took_5s awk -v m="$MAXS" 'BEGIN { exit !(m < 5) }'
# taken up again in place: the same process throughout
check same_server_throughout kill -0 "$SPID"
check listened_once [ "$(grep -c '^listening on' "$T/SPID.log")" -eq 1 ]
# the writer's connection went with each restart: taken again with the writer
# lock, by the writer's next transaction (it was idle) or by its recovery (a
# transaction failed under it: state loaded again from the store)
NLOCK=$(grep -c 'reconnected to PostgreSQL and took the writer lock again' "$T/SPID.log")
NBACK=$(grep -c 'the store is back after' "$T/SPID.log")
check writer_lock_taken_again_each_restart [ "$NLOCK" -ge "$RESTARTS" ]
check ready_again [ "$(readyz)" = 200 ]
reconnects() { curl -s -H "Authorization: Bearer $TOK" "$URL/metrics" | sed -n 's/^kintsugi_store_reconnects_total //p'; }
check recoveries_counted [ "$(reconnects)" = "$NBACK" ]

# ---- acknowledgements: every request once, whole ----------------------------------------
check_acks

# ---- deliveries finish, then the server stops ----------------------------------------------
check_drained
kill "$SPID"
wait "$SPID"
check clean_stop [ $? -eq 0 ]
SPID=
check state_saved grep -q 'stopped; state saved' "$T/SPID.log"

# ---- the same requests through `kintsugi ingest` into SQLite: the same store -------------------
check_as_ingest "$DB"

# ---- fencing: another server took the writer lock while the database was away ------------------
# (this one does not check its lock while quiet, KINTSUGI_LOCK_CHECK=0: it
# must not see the loss before the second server has taken the lock; a
# server that checks exits on its own: postgres.sh fence_*)
export KINTSUGI_LOCK_CHECK=0
check first_server_again start APID
unset KINTSUGI_LOCK_CHECK
SPID=$APID
AURL=$URL
bash scripts/pg-test.sh crash "$PGDIR"
bash scripts/pg-test.sh up "$PGDIR"
# (with --clock event an idle server runs no transaction: it has not seen the loss yet)
check second_server_takes_the_lock start BPID
BURL=$URL
LAST=$(ls "$T"/req/req-*.ndjson | tail -1)
# (an event after the load's last: gen.py's rounds are two hours each from 2026-11-01)
printf '{"id":"fence-1","type":"sync","ts":"%s","channel":"amazon","status":"ok"}\n' \
    "$(date -u -d "2026-11-01 00:00 UTC + $((2 * ROUNDS)) hours" +%Y-%m-%dT%H:%M:%SZ)" >"$T/fence"
post() { # URL FILE: prints the status; the answer in $T/answer
    curl -s -o "$T/answer" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $TOK" \
        -H 'Content-Type: application/x-ndjson' --data-binary @"$2" "$1/v1/events"
}
check fenced_request_503 [ "$(post "$AURL" "$T/fence")" = 503 ]
fenced_exit() {
    local rc
    for _ in $(seq 1 300); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    wait "$SPID"
    rc=$?
    SPID=
    [ "$rc" -eq 1 ] || { echo "exit $rc"; tail -5 "$T/APID.log"; return 1; }
}
check fenced_server_exits_1 fenced_exit
check fenced_error_is_clear grep -q 'another process holds it now.*exiting without writing anything more' "$T/APID.log"
check fenced_server_said_nothing_saved sh -c "! grep -q 'stopped; state saved' '$T/APID.log'"
# what the fenced server was asked is not in the store: the active one takes it as new
check active_server_takes_it sh -c "[ \"\$(curl -s -o '$T/answer.fence' -w '%{http_code}' -H 'Authorization: Bearer $TOK' -H 'Content-Type: application/x-ndjson' --data-binary @'$T/fence' '$BURL/v1/events')\" = 202 ] && jq -e '.accepted == 1' '$T/answer.fence' >/dev/null || { cat '$T/answer.fence'; exit 1; }"
check active_server_had_everything sh -c "[ \"\$(curl -s -o '$T/answer' -w '%{http_code}' -H 'Authorization: Bearer $TOK' -H 'Content-Type: application/x-ndjson' --data-binary @'$LAST' '$BURL/v1/events')\" = 202 ] && jq -e '.accepted == 0' '$T/answer' >/dev/null"
kill "$BPID"
wait "$BPID"
check active_server_clean_stop [ $? -eq 0 ]
BPID=

echo "pg_restart: $RESTARTS PostgreSQL restarts under load (down ${down_ms} ms in all), $NREQ requests acknowledged, $NEV events ($ACC accepted at once, $DUP duplicates), $N503 answers 503 while down, slowest answer ${MAXS} s, writer lock taken again $NLOCK times ($NBACK after a failed transaction, state loaded again), $(wc -l <"$T/hook.keys") hooks, $(jq length <("$K" incidents --json --db "$T/ref.db")) incidents, doubles 0; fenced server exit 1"
echo "RESULT passed=$passed failed=$failed"
