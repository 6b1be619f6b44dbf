#!/usr/bin/env bash
# kintsugi serve: the guarded feed, dead letters and the hook outbox over
# HTTP, byte for byte the documents of the CLI's --json; dead letters
# replayed through the journal (a kill -9 after the replay loses nothing and
# applies nothing twice); hooks delivered by the server to a real local HTTP
# receiver, each attempt on the incident's timeline, not repeated after a
# kill -9. Every server is stopped by its PID. Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"

. "$(dirname "$0")/serve_lib.bash"

# ---- a hook receiver: a real HTTP server on a free port, logging each call -------
cat >"$T/recv.py" <<'EOF'
import http.server, json, sys
log = open(sys.argv[1], "a")
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        log.write(json.dumps({"path": self.path, "key": self.headers.get("Idempotency-Key"),
                              "body": body.decode("utf-8", "replace")}) + "\n")
        log.flush()
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
s.serve_forever()
EOF
: >"$T/calls"
python3 "$T/recv.py" "$T/calls" "$T/port" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
RPORT=$(cat "$T/port")
cat >"$T/kintsugi.yaml" <<EOF
hooks:
  stop_order_import:
    url: "http://127.0.0.1:$RPORT/hooks/stop-import"
    retries: 2
    backoff: 1s
    timeout: 5s
EOF
check receiver_up [ -n "$RPORT" ]

DB=$T/more.db
"$K" token create --name alice --role admin --db "$DB" >"$T/admin.tok" 2>/dev/null
"$K" token create --name bob --role responder --db "$DB" >"$T/resp.tok" 2>/dev/null
"$K" token create --name vic --role viewer --db "$DB" >"$T/view.tok" 2>/dev/null
ADMIN=$(cat "$T/admin.tok") RESP=$(cat "$T/resp.tok") VIEW=$(cat "$T/view.tok")

# This server is killed with -9 below to show the journal re-applied: it never
# saves its state on a quiet spell (which would leave no journal to re-apply).
export KINTSUGI_CHECKPOINT_IDLE=0
check starts start a "$DB" --clock event --config "$T/kintsugi.yaml"
unset KINTSUGI_CHECKPOINT_IDLE

# ---- hooks: delivered by the server --------------------------------------------------
# An OMS outage: stop_order_import (configured: the receiver), hold_orders and
# extend_handling_time (not configured).
status_is 202 POST '/v1/events?end=true' "$RESP" "$(cat "$SC/ack_meets_sla/events.ndjson")" application/x-ndjson
ID=$(get /v1/incidents | jq '.[0].id')
delivered() { get '/v1/hooks?status=done' | jq -e 'map(select(.action == "stop_order_import")) | length == 1'; }
check hook_delivered_by_the_server until_ok 10 delivered
on_timeline() { get "/v1/incidents/$ID" | jq -e '[.timeline[] | select(.text | startswith("Hook stop_order_import attempt 1: ok"))] | length == 1'; }
check hook_attempt_on_the_timeline on_timeline
check receiver_got_one_call [ "$(grep -c . "$T/calls")" = 1 ]
KEY=$(get '/v1/hooks?status=done' | jq -r '.[0].key')
SENT_KEY=$(get '/v1/hooks?status=done' | jq -r '.[0].idempotency_key')
check call_carries_the_idempotency_key [ "$(jq -r .key "$T/calls")" = "$SENT_KEY" ]
# the key sent is the database's id and the call's own key
check sent_key_has_the_database_id bash -c "[[ '$SENT_KEY' =~ ^[0-9a-f]{32}-$KEY\$ ]]"
check call_went_to_the_hook_url [ "$(jq -r .path "$T/calls")" = /hooks/stop-import ]
unconfigured() { get '/v1/hooks?status=unconfigured' | jq -e 'map(.action) | sort == ["extend_handling_time", "hold_orders"]'; }
check unconfigured_recorded until_ok 5 unconfigured
# the steps of the calls not configured wait for a person; the one delivered is kintsugi's
steps_are() { # the hook steps of incident ID as [[step, status, by]...]
    local now
    now=$(get "/v1/incidents/$ID" | jq -c '[.checklist[] | select(.action == "stop_order_import" or .action == "hold_orders" or .action == "extend_handling_time") | [.step, .status, .by]]')
    [ "$now" = "$1" ] || { echo "steps: $now"; return 1; }
}
LEFT_TWO='[["stop_order_import","done","kintsugi"],["hold_orders","left_to_person",null],["extend_handling_time","left_to_person",null]]'
LEFT_ONE='[["stop_order_import","done","kintsugi"],["hold_orders","done","kintsugi"],["extend_handling_time","left_to_person",null]]'
check steps_left_to_a_person_when_not_configured until_ok 5 steps_are "$LEFT_TWO"
check hooks_same_as_cli same /v1/hooks hooks --json
check hooks_status_same_as_cli same '/v1/hooks?status=unconfigured' hooks --json --status unconfigured
check hooks_bad_status_400 status_is 400 GET '/v1/hooks?status=nope' "$VIEW"
check hooks_bad_status_names_the_field grep -q 'query \\"status\\"' "$T/body"
check hooks_need_a_token status_is 401 GET /v1/hooks ""

# ---- dead letters -------------------------------------------------------------------
BAD='{"type":"inventory","ts":"2026-11-22T11:00:00.000Z","channel":"amazon","sku":"A","qty":"12"}
{"type":"sync","ts":"2026-11-22T11:00:01.000Z","channel":"amazon","status":"fine"}'
status_is 202 POST /v1/events "$RESP" "$BAD" application/x-ndjson
check deadletters_same_as_cli same /v1/deadletters deadletters --json
check deadletters_all_same_as_cli same '/v1/deadletters?status=all' deadletters --json --all
check deadletters_two_pending [ "$(get /v1/deadletters | jq length)" = 2 ]
check deadletters_bad_status_400 status_is 400 GET '/v1/deadletters?status=done' "$VIEW"
DL=$(get /v1/deadletters | jq '.[] | select(.raw | contains("inventory")) | .id')
# The CLI fixes the raw line (a store row, not the engine: allowed while the
# server runs); the server replays it.
check fix_while_serving "$K" deadletters fix "$DL" '{"type":"inventory","ts":"2026-11-22T11:00:00.000Z","channel":"amazon","sku":"A","qty":12}' --db "$DB"
check replay_needs_responder status_is 403 POST /v1/deadletters/replay "$VIEW" '{}'
check replay_bad_id_400 status_is 400 POST /v1/deadletters/replay "$RESP" '{"id":"x"}'
check replay_bad_id_names_the_field grep -q 'field \\"id\\"' "$T/body"
check replay_unknown_404 status_is 404 POST /v1/deadletters/replay "$RESP" '{"id":99999}'
# A mistyped field is refused and replays nothing (it was taken for {}: every letter).
check replay_unknown_field_400 status_is 400 POST /v1/deadletters/replay "$RESP" '{"deadletter":1}'
check replay_unknown_field_named grep -q 'field \\"deadletter\\" is not known (id)' "$T/body"
check replay_bogus_field_400 status_is 400 POST /v1/deadletters/replay "$RESP" '{"bogus":1}'
check replay_not_an_object_400 status_is 400 POST /v1/deadletters/replay "$RESP" '[1]'
check replay_not_an_object_says_so grep -q 'body: must be a JSON object, got an array' "$T/body"
check replay_refused_replays_nothing [ "$(get /v1/deadletters | jq length)" = 2 ]
# A query parameter the route does not know is refused, naming those it knows.
check deadletters_unknown_query_400 status_is 400 GET '/v1/deadletters?limt=1' "$VIEW"
check deadletters_unknown_query_named grep -q 'query \\"limt\\" is not known (status, after, limit)' "$T/body"
# a parameter given twice is refused, not read as its first value
check deadletters_limit_twice_400 status_is 400 GET '/v1/deadletters?limit=1&limit=3' "$VIEW"
check deadletters_limit_twice_named grep -q 'query \\"limit\\" is given more than once' "$T/body"
check incidents_status_twice_400 status_is 400 GET '/v1/incidents?status=resolved&status=investigating' "$VIEW"
check incidents_status_twice_named grep -q 'query \\"status\\" is given more than once' "$T/body"
check hooks_unknown_query_400 status_is 400 GET '/v1/hooks?stauts=failed' "$VIEW"
check feed_unknown_query_400 status_is 400 GET '/v1/feed/amazon?sinse=3' "$VIEW"
check feed_unknown_query_named grep -q 'query \\"sinse\\" is not known (since, limit, state)' "$T/body"
check replay_one status_is 200 POST /v1/deadletters/replay "$RESP" "{\"id\":$DL}"
check replay_one_answer [ "$(jq -c '[.op, .deadletter, .by, .replayed, .still_rejected]' <<<"$BODY")" = "[\"deadletters_replay\",$DL,\"bob\",1,[]]" ]
check replay_again_404 status_is 404 POST /v1/deadletters/replay "$RESP" "{\"id\":$DL}"
check replay_all status_is 200 POST /v1/deadletters/replay "$RESP" '{}'
check replay_all_still_rejected [ "$(jq -c '[.replayed, (.still_rejected | length), (.still_rejected[0].reason | test("must be one of ok, error"))]' <<<"$BODY")" = '[0,1,true]' ]
check replayed_listed [ "$(get '/v1/deadletters?status=replayed' | jq -c 'map(.id)')" = "[$DL]" ]
check one_still_pending [ "$(get /v1/deadletters | jq length)" = 1 ]
status_is 202 POST '/v1/events?end=true' "$RESP" '' application/x-ndjson
feed_has_a() { get /v1/feed/amazon | jq -e '[.changes[] | select(.sku == "A" and .qty == 12)] | length == 1'; }
check replayed_event_applied feed_has_a

# ---- the guarded feed ----------------------------------------------------------------
status_is 202 POST '/v1/events?end=true' "$RESP" "$(cat "$SC/zero_spike_p1/events.ndjson")" application/x-ndjson
check feed_same_as_cli same /v1/feed/amazon feed amazon --json
check feed_since_same_as_cli same '/v1/feed/amazon?since=3' feed amazon --since 3 --json
check feed_limit_same_as_cli same '/v1/feed/amazon?since=1&limit=2' feed amazon --since 1 --limit 2 --json
# A channel the engine does not know is 404 on every form of the route, and
# an error (exit 1) for the CLI with or without --state.
check feed_unknown_channel_404 status_is 404 GET /v1/feed/nowhere "$VIEW"
check feed_unknown_channel_not_found [ "$(jq -r '"\(.error.code) \(.error.message)"' <<<"$BODY")" = "not_found no channel 'nowhere'" ]
check feed_unknown_channel_since_404 status_is 404 GET '/v1/feed/nowhere?since=3' "$VIEW"
check feed_unknown_channel_cli_fails bash -c "! '$K' feed nowhere --json --db '$DB' >'$T/feed.out' 2>'$T/feed.err'"
check feed_unknown_channel_cli_says_so grep -q "no channel 'nowhere'" "$T/feed.err"
check feed_unknown_channel_cli_prints_nothing [ ! -s "$T/feed.out" ]
check feed_unknown_channel_cli_table_fails bash -c "! '$K' feed nowhere --db '$DB' >/dev/null 2>&1"
# A channel known from a sync event, without changes yet: an empty feed.
status_is 202 POST '/v1/events?end=true' "$RESP" '{"type":"sync","ts":"2026-11-22T10:16:00Z","channel":"otto","status":"ok"}' application/x-ndjson
check feed_known_channel_without_changes [ "$(get /v1/feed/otto | jq -c .)" = '{"channel":"otto","changes":[],"cursor":0}' ]
check feed_known_channel_since_0 status_is 200 GET '/v1/feed/otto?since=0' "$VIEW"
# A channel whose name holds a slash is one path segment when the slash is
# percent-encoded (the path is split before it is decoded).
status_is 202 POST /v1/events "$RESP" '{"type":"inventory","ts":"2026-11-22T10:17:00Z","channel":"amazon/us","sku":"S1","qty":7}' application/x-ndjson
status_is 202 POST '/v1/events?end=true' "$RESP" '' application/x-ndjson
check feed_slash_channel_same_as_cli same /v1/feed/amazon%2Fus feed amazon/us --json
check feed_slash_channel_has_its_change [ "$(get /v1/feed/amazon%2fus | jq -c '[.channel, (.changes | map([.sku, .qty]))]')" = '["amazon/us",[["S1",7]]]' ]
check feed_slash_unencoded_404 status_is 404 GET /v1/feed/amazon/us "$VIEW"
check feed_bad_since_400 status_is 400 GET '/v1/feed/amazon?since=-1' "$VIEW"
check feed_bad_since_names_the_field grep -q 'query \\"since\\"' "$T/body"
check feed_state_unknown_channel_404 status_is 404 GET '/v1/feed/nowhere?state=1' "$VIEW"
# A cursor past the end of the feed (a database made again) is a conflict, never an
# empty answer that hands the cursor back: an adapter would skip every change up to it.
END=$(get /v1/feed/amazon | jq .cursor)
check feed_at_its_end_is_empty [ "$(get "/v1/feed/amazon?since=$END" | jq -c '[.changes, .cursor]')" = "[[],$END]" ]
check feed_past_its_end_409 status_is 409 GET "/v1/feed/amazon?since=$((END + 1))" "$VIEW"
check feed_past_its_end_says_so grep -q "is past the end of amazon's feed (its last change is $END)" "$T/body"
# the way out it names is the API's route, not a command the server would refuse
check feed_past_its_end_names_the_route grep -qF "read the whole state (GET /v1/feed/amazon?state=1) and go on" "$T/body"
# a step ticked twice: the second records nothing (409) and points to the note route
check step_ticked status_is 200 POST /v1/incidents/1/steps/diagnose_system "$RESP" '{"status":"done"}'
check step_ticked_again_409 status_is 409 POST /v1/incidents/1/steps/diagnose_system "$RESP" '{"status":"done"}'
check step_again_names_the_route grep -qF "step diagnose_system is already done (by bob at " "$T/body"
check step_again_note_route grep -qF "nothing recorded (add a note: POST /v1/incidents/1/note)" "$T/body"
check incidents_unknown_type_400 status_is 400 GET '/v1/incidents?type=bogus' "$VIEW"
check incidents_known_type_200 status_is 200 GET '/v1/incidents?type=external' "$VIEW"
# A dry run that is not a boolean is refused, never taken for a real rollback.
check rollback_dry_run_1_400 status_is 400 POST /v1/guard/rollback "$ADMIN" '{"incident":1,"dry_run":1}'
check rollback_dry_run_no_400 status_is 400 POST /v1/guard/rollback "$ADMIN" '{"incident":1,"dry_run":"no"}'
check rollback_dry_run_names_the_field grep -q 'field \\"dry_run\\" must be true or false' "$T/body"
FEED=$(get /v1/feed/amazon)
DLS=$(get '/v1/deadletters?status=all')

# ---- kill -9: the replay and the hook results come back from the journal -----------------
kill -9 "$PID"
wait "$PID" 2>/dev/null
check restarts start b "$DB" --clock event --config "$T/kintsugi.yaml"
check journal_reapplied grep -q 're-applied [0-9]* journal entr' "$T/b.err"
check feed_survives_kill [ "$(get /v1/feed/amazon)" = "$FEED" ]
# Dead letters written after the last saved state are made anew by the
# journal (received_at is then the restart's): the rest is the same, the line
# as fixed and replayed included.
nowall() { jq -c 'map(del(.received_at))'; }
dls_same() {
    local now
    now=$(get "/v1/deadletters?status=all" | nowall)
    [ "$now" = "$(nowall <<<"$DLS")" ] || { echo "before: $DLS"; echo "after:  $now"; return 1; }
}
check deadletters_survive_kill dls_same
check hook_result_survives_kill on_timeline
check hook_still_done delivered
check steps_left_survive_kill steps_are "$LEFT_TWO"
sleep 1.5
check no_second_call [ "$(grep -c . "$T/calls")" = 1 ]
# The engine's state (after a restart it is the saved one) is what the CLI reads.
check feed_state_same_as_cli same '/v1/feed/amazon?state=1' feed amazon --state --json

# ---- a hook call that gave up, made again by hand ---------------------------------------
HKEY=$(get '/v1/hooks?status=unconfigured' | jq -r 'map(select(.action == "hold_orders"))[0].key')
check hook_retry_still_unconfigured_409 status_is 409 POST "/v1/hooks/$HKEY/retry" "$RESP" '{}'
check hook_retry_409_says_what_to_do grep -q 'no hook is configured for hold_orders: add one under hooks:' "$T/body"
check hook_retry_done_409 status_is 409 POST "/v1/hooks/$KEY/retry" "$RESP" '{}'
check hook_retry_unknown_404 status_is 404 POST /v1/hooks/kintsugi-0-nothing-0/retry "$RESP" '{}'
check hook_retry_viewer_403 status_is 403 POST "/v1/hooks/$HKEY/retry" "$VIEW" '{}'
check hook_retry_bad_body_400 status_is 400 POST "/v1/hooks/$HKEY/retry" "$RESP" '[1]'
check hook_retry_unknown_field_400 status_is 400 POST "/v1/hooks/$HKEY/retry" "$RESP" '{"force":true}'
check hook_retry_unknown_field_named grep -q 'field \\"force\\" is not known (none: the body is {} or empty)' "$T/body"
stop "$PID" TERM
# hold_orders now has a hook: the call is made again, once, with its key.
cat >>"$T/kintsugi.yaml" <<EOF
  hold_orders:
    url: "http://127.0.0.1:$RPORT/hooks/hold"
    timeout: 5s
EOF
check restarts_with_hold_orders start c "$DB" --clock event --config "$T/kintsugi.yaml"
check hook_retry_200 status_is 200 POST "/v1/hooks/$HKEY/retry" "$RESP" '{}'
check hook_retry_answers jq -e --arg k "$HKEY" '.op == "hook_retry" and .key == $k and .status == "pending" and .by == "bob"' "$T/body"
HSENT=$(get '/v1/hooks' | jq -r --arg k "$HKEY" 'map(select(.key == $k))[0].idempotency_key')
held() { [ "$(jq -r 'select(.path == "/hooks/hold") | .key' "$T/calls")" = "$HSENT" ]; }
check hook_retry_delivered until_ok 10 held
retried_tl() {
    get "/v1/incidents/$ID" | jq -e --arg k "$HKEY" '[.timeline[] | .text] |
        (map(select(. == "Hook hold_orders (key " + $k + ") made again by hand by bob")) | length == 1) and
        (map(select(startswith("Hook hold_orders attempt 1: ok"))) | length == 1)'
}
check hook_retry_on_the_timeline until_ok 5 retried_tl
check hook_retry_row_done until_ok 5 bash -c "curl -s -H 'Authorization: Bearer $VIEW' '$URL/v1/hooks?status=done' | jq -e --arg k '$HKEY' 'map(select(.key == \$k and .attempts == 1)) | length == 1'"
# the call made again went through: hold_orders is kintsugi's again
check step_done_by_kintsugi_after_the_retry until_ok 5 steps_are "$LEFT_ONE"
check hook_retry_again_409 status_is 409 POST "/v1/hooks/$HKEY/retry" "$RESP" '{}'
kill -9 "$PID"
wait "$PID" 2>/dev/null
check restarts_after_retry start d "$DB" --clock event --config "$T/kintsugi.yaml"
check hook_retry_survives_kill retried_tl
check step_done_after_the_retry_survives_kill steps_are "$LEFT_ONE"
sleep 1.5
check hook_retry_not_repeated [ "$(grep -c '/hooks/hold' "$T/calls")" = 1 ]
stop "$PID" TERM

# ---- the state is saved once enough is journaled (KINTSUGI_CHECKPOINT_BYTES) ----------
# With a threshold below one request, every request's entry is accounted for by
# a saved state and leaves the journal at once; with the default (16 MiB), the
# entry stays until the 30 s timer.
journal_rows() { sqlite3 "$1" 'SELECT count(*) FROM journal'; }
EV='{"type":"inventory","ts":"2026-11-22T10:00:00Z","channel":"amazon","sku":"J-1","qty":3}'
by_bytes() { # THRESHOLD WANT-ROWS
    local db=$T/ckb-$1.db
    "$K" token create --name feeder --role responder --db "$db" >"$T/ckb.tok" 2>/dev/null
    KINTSUGI_CHECKPOINT_EVERY=3600 KINTSUGI_CHECKPOINT_BYTES=$1 start "ckb$1" "$db" --clock event || return 1
    status_is 202 POST /v1/events "$(cat "$T/ckb.tok")" "$EV" application/x-ndjson || return 1
    [ "$(journal_rows "$db")" = "$2" ] || { echo "journal rows $(journal_rows "$db"), want $2"; return 1; }
    kill -9 "$PID"; wait "$PID" 2>/dev/null
    # either way, after kill -9 and a restart the event is there, once
    start "ckb$1-again" "$db" --clock event || return 1
    stop "$PID" TERM
    [ "$(journal_rows "$db")" = 0 ] || return 1
    "$K" feed amazon --state --db "$db" --json | jq -e '[.. | objects | select(.sku? == "J-1")] | length == 1' >/dev/null
}
check checkpoint_after_bytes_trims_journal by_bytes 10 0
check checkpoint_default_keeps_journal_entry by_bytes 16777216 1

# ---- an update posted without its closing sync closes after --update-idle ---------
# (on the wall clock: 30 SKUs at 10 with their sync, then 10 of them to 0 and silence)
IDB=$T/idle.db
"$K" token create --name ops --role admin --db "$IDB" >"$T/idle.tok" 2>/dev/null
ITOK=$(cat "$T/idle.tok")
check idle_server_starts start idle "$IDB" --update-idle 1s
now=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
python3 -c "
import json
for i in range(30): print(json.dumps({'type':'inventory','ts':'$now','channel':'amazon','sku':'S%d'%i,'qty':10,'batch':'b1'}))
print(json.dumps({'type':'sync','ts':'$now','channel':'amazon','status':'ok','batch':'b1'}))
for i in range(10): print(json.dumps({'type':'inventory','ts':'$now','channel':'amazon','sku':'S%d'%i,'qty':0,'batch':'b2'}))
" >"$T/idle.ndjson"
check idle_events_taken status_is 202 POST /v1/events "$ITOK" "$(cat "$T/idle.ndjson")" application/x-ndjson
spike() { curl -s -H "Authorization: Bearer $ITOK" "$URL/v1/incidents" | jq -e '[.[] | select(.type == "data_corruption" and .severity == "P1")] | length == 1'; }
check idle_closes_the_update_and_judges_it until_ok 15 spike
check idle_zeros_held bash -c "curl -s -H 'Authorization: Bearer $ITOK' '$URL/v1/feed/amazon' | jq -e '[.changes[] | select(.qty == 0)] | length == 0'"
stop "$PID"

# ---- on the wall clock, an event ahead of it (within --max-skew) happens now -------
# (a client 4 minutes fast must not move the clock ahead and fire timers early)
printf 'detectors:\n  sync_freshness:\n    interval: 30s\n' >"$T/skew.yaml"
SDB=$T/skew.db
"$K" token create --name ops --role admin --db "$SDB" >"$T/skew.tok" 2>/dev/null
STOK=$(cat "$T/skew.tok")
check skew_server_starts start skew "$SDB" --config "$T/skew.yaml"
now=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) fut=$(date -u -d '+4 min' +%Y-%m-%dT%H:%M:%S.%3NZ)
check skew_events_taken status_is 202 POST /v1/events "$STOK" "{\"type\":\"sync\",\"ts\":\"$now\",\"channel\":\"amazon\",\"status\":\"ok\"}
{\"type\":\"health\",\"ts\":\"$fut\",\"system\":\"oms\",\"status\":\"up\"}" application/x-ndjson
sleep 1.5
clock_not_ahead() {
    local c w
    c=$(curl -s -H "Authorization: Bearer $STOK" "$URL/v1/sla" | jq -r .clock)
    w=$(date -u +%s%3N)
    python3 -c "import datetime, sys; c = datetime.datetime.strptime(sys.argv[1], '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc); sys.exit(0 if c.timestamp() * 1000 <= int(sys.argv[2]) + 1000 else 1)" "$c" "$w"
}
check skew_clock_not_ahead_of_the_wall clock_not_ahead
check skew_no_early_timer is 0 "$(curl -s -H "Authorization: Bearer $STOK" "$URL/v1/incidents" | jq length)"
# one further ahead than --max-skew (5m by default) is a dead letter that names
# --max-skew and its value (not ts_horizon, the horizon of event time)
far=$(date -u -d '+10 min' +%Y-%m-%dT%H:%M:%S.%3NZ)
check skew_far_rejected status_is 202 POST /v1/events "$STOK" "{\"type\":\"health\",\"ts\":\"$far\",\"system\":\"wms\",\"status\":\"up\"}"
check skew_dead_letter_names_max_skew bash -c "r=\$(curl -s -H 'Authorization: Bearer $STOK' '$URL/v1/deadletters' | jq -r '.[-1].reason'); echo \"\$r\"; [[ \$r == 'health: field \"ts\" must be at most 5m ahead of the wall clock '*' (--max-skew 5m), got $far' ]]"
check skew_response_names_max_skew bash -c "jq -e '.rejected[0].reason | contains(\"(--max-skew 5m), got \")' <<<'$BODY'"
stop "$PID"

# ---- a quiet server saves its state: the reading commands beside it see it -------
# (guard status, reconcile, feed read the saved state; saved only every 30 s
# under load, but within a second of the last change once the server is quiet)
QDB=$T/quiet.db
"$K" token create --name ops --role admin --db "$QDB" >"$T/quiet.tok" 2>/dev/null
QTOK=$(cat "$T/quiet.tok")
check quiet_server_starts start quiet "$QDB" --clock event
check quiet_events_taken status_is 202 POST /v1/events "$QTOK" "$(cat "$SC/zero_spike_p1/events.ndjson")" application/x-ndjson
quiet_guard() {
    local a b
    a=$(curl -s -H "Authorization: Bearer $QTOK" "$URL/v1/guard")
    b=$("$K" guard status --json --db "$QDB")
    [ "$a" = "$b" ] && echo "$b" | jq -e '[.channels[] | select(.paused)] | length > 0' >/dev/null
}
check quiet_guard_status_is_the_servers until_ok 5 quiet_guard
check quiet_reconcile_is_the_servers bash -c "[ \"\$(curl -s -H 'Authorization: Bearer $QTOK' '$URL/v1/reconcile')\" = \"\$($K reconcile --json --db $QDB)\" ]"
stop "$PID"

# ---- requests never hold the saving off: a dashboard polling faster than the ----------
# writer's tick (250 ms), the state is still saved a second after the last change
BDB=$T/busy.db
"$K" token create --name ops --role admin --db "$BDB" >"$T/busy.tok" 2>/dev/null
BTOK=$(cat "$T/busy.tok")
check busy_server_starts start busy "$BDB" --clock event
check busy_events_taken status_is 202 POST /v1/events "$BTOK" "$(cat "$SC/zero_spike_p1/events.ndjson")" application/x-ndjson
(while :; do curl -s -o /dev/null -H "Authorization: Bearer $BTOK" "$URL/v1/guard"; sleep 0.02; done) &
POLLER=$!
PIDS+=("$POLLER")
busy_saved() { "$K" guard status --json --db "$BDB" | jq -e '[.channels[] | select(.paused)] | length > 0'; }
check busy_state_saved_while_polled until_ok 10 busy_saved
kill "$POLLER"
stop "$PID"

# ---- the name others see: --advertise, or the machine's name for a wildcard host ----
ADB=$T/adv.db
check advertise_not_a_url exit_is 2 "$K" serve --advertise kintsugi-1:8080 --db "$ADB"
"$K" serve --listen 0.0.0.0:0 --db "$ADB" --clock event 2>"$T/adv0.err" &
APID=$!
PIDS+=("$APID")
adv_port() { sed -n 's/^listening on http:\/\/0\.0\.0\.0:\([0-9]*\)$/\1/p' "$T/adv0.err" | head -1; }
check wildcard_listens until_ok 20 bash -c "grep -q '^listening on http://0.0.0.0:' '$T/adv0.err'"
named_by_host() {
    "$K" guard pause amazon --by x --db "$ADB" 2>&1 | grep -qF "(kintsugi serve at http://$(hostname):$(adv_port), since"
}
check wildcard_named_by_the_machine named_by_host
stop "$APID"
check advertised_starts start adv1 "$ADB" --clock event --advertise http://kintsugi-1.internal:9
check advertised_name_in_refusal bash -c "'$K' guard pause amazon --by x --db '$ADB' 2>&1 | grep -qF '(kintsugi serve at http://kintsugi-1.internal:9, since'"
check advertised_said_at_start grep -qF 'name this server http://kintsugi-1.internal:9 (--advertise)' "$T/adv1.err"
stop "$PID"

echo "RESULT passed=$passed failed=$failed"
