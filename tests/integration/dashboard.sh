#!/usr/bin/env bash
# The dashboard in a real browser (docs/DASHBOARD.md): a simulated day with
# faults (a zero-inventory spike, a stalled channel, a warehouse down, a feed
# schema change) replayed by `kintsugi ingest`, `kintsugi serve` (the
# sanitizer build) started on it on a free port, tokens of each role made,
# then tests/browser/dashboard.mjs drives Debian's headless chromium through
# puppeteer-core (`npm ci` from tests/browser/ when node_modules is missing;
# no browser is downloaded): sign-in and refused tokens, every open incident
# on Now, acknowledge, a checklist step, a half-typed note kept across live
# updates, roll back after confirming and the guard changing, release, an
# approval, a dead-letter replay, no action for a viewer, the bytes each page
# transfers, theme and phone width. Screenshots go to build/screenshots/.
# Also checked with curl: the assets' headers; and `kintsugi demo`, which serves
# its database only on a terminal (script(1) gives it one) and otherwise says how.
# Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"
ROOT=$PWD
BR=tests/browser
SHOTS=$ROOT/build/screenshots

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

browser_ready() {
    command -v node >/dev/null && command -v npm >/dev/null || {
        echo "node and npm are missing (scripts/deps.sh installs them)"
        return 1
    }
    [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || {
        echo "chromium is missing (scripts/deps.sh installs it)"
        return 1
    }
    [ -d "$BR/node_modules/puppeteer-core" ] && return 0
    (cd "$BR" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
}
check browser_installed browser_ready

# serve_on DB CONFIG ERRFILE: `kintsugi serve` on a free port, event time;
# sets SPID and SURL (empty when it did not start).
serve_on() {
    "$K" serve --listen 127.0.0.1:0 --db "$1" --config "$2" --clock event 2>"$3" &
    SPID=$!
    PIDS+=("$SPID")
    SURL=""
    for _ in $(seq 1 600); do
        SURL=$(sed -n 's/^listening on //p' "$3" | head -1)
        [ -n "$SURL" ] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
}

# ---- the scenario --------------------------------------------------------------------
DB=$T/shop.db
"$K" simulate --fault zero-spike,stall-one,wms-one,schema-change --skus 400 --seed 3 \
    --out "$T/day.ndjson" 2>/dev/null
cat >"$T/kintsugi.yaml" <<'EOF'
roles:
  lead: {approve: ["*"]}
people:
  ada: {role: lead}
hooks:
  stop_order_import: {command: "echo the OMS refused >&2; exit 3", retries: 0}
EOF
check scenario_ingested "$K" ingest "$T/day.ndjson" --db "$DB" --config "$T/kintsugi.yaml"
"$K" token create --name rob --role responder --db "$DB" >"$T/rob.tok" 2>/dev/null
"$K" token create --name ada --role admin --db "$DB" >"$T/ada.tok" 2>/dev/null
"$K" token create --name vera --role viewer --db "$DB" >"$T/vera.tok" 2>/dev/null
"$K" token create --name gone --role responder --db "$DB" >"$T/gone.tok" 2>/dev/null
"$K" token revoke gone --db "$DB" >/dev/null 2>&1
VIEW=$(cat "$T/vera.tok")

serve_on "$DB" "$T/kintsugi.yaml" "$T/serve.err"
PID=$SPID URL=$SURL
check server_starts test -n "$URL"

# ---- the assets, by curl ---------------------------------------------------------------
hdr() { curl -s -D - -o /dev/null "$URL$1" | tr -d '\r'; }
check index_is_html_without_token grep -qx 'Content-Type: text/html; charset=utf-8' <(hdr /)
check index_has_csp grep -q "^Content-Security-Policy: default-src 'none'; script-src 'self'" <(hdr /)
check js_type grep -qx 'Content-Type: text/javascript; charset=utf-8' <(hdr /app.js)
check css_type grep -qx 'Content-Type: text/css; charset=utf-8' <(hdr /app.css)
check assets_revalidate grep -qx 'Cache-Control: no-cache' <(hdr /app.js)
ETAG=$(hdr /app.js | sed -n 's/^ETag: //p')
check etag_gives_304 is 304 "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$URL/app.js")"
check assets_are_the_files cmp <(curl -s "$URL/app.js") web/app.js
check unknown_asset_404 is 404 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/nothing.js")"
check whoami_names_the_role is '{"name":"vera","role":"viewer"}' \
    "$(curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/whoami")"
check whoami_needs_a_token is 401 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/whoami")"
vget() { curl -s -H "Authorization: Bearer $VIEW" "$URL$1"; }
HINC=$(vget /v1/hooks | jq '.[0].incident // empty')
check scenario_has_hook_calls test -n "$HINC"
check scenario_has_a_failed_hook_call is failed "$(vget /v1/hooks | jq -r 'map(select(.action == "stop_order_import")) | .[0].status')"
check hooks_of_one_incident is "$(vget /v1/hooks | jq -c "map(select(.incident == $HINC))")" \
    "$(vget "/v1/hooks?incident=$HINC" | jq -c .)"
check hooks_bad_incident_400 is 400 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $VIEW" "$URL/v1/hooks?incident=x")"
check deadletters_page is '[3,2]' "$(vget '/v1/deadletters?after=2&limit=2' | jq -c '[.[0].id, length]')"
check deadletters_total_header grep -qx "X-Total-Count: $(vget /v1/deadletters | jq length)" \
    <(curl -s -D - -o /dev/null -H "Authorization: Bearer $VIEW" "$URL/v1/deadletters?limit=1" | tr -d '\r')
check reconcile_limit_keeps_counts is "$(vget /v1/reconcile | jq -c '[.differences, .oversell_risks, .items[:3]]')" \
    "$(vget '/v1/reconcile?limit=3' | jq -c '[.differences, .oversell_risks, .items]')"
check incidents_brief_drops_the_lists is "$(vget /v1/incidents | jq -c 'map(del(.signals, .scope.sku_list))')" \
    "$(vget '/v1/incidents?view=brief' | jq -c .)"
check incidents_bad_view_400 is 400 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $VIEW" "$URL/v1/incidents?view=x")"
check sla_runs_on_event_time is event "$(curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/sla" | jq -r .clock_mode)"

# ---- a second scenario for messages, remedies, reviews and recovery ---------------------
# A WMS at wh-a, checked every 4 minutes for three weeks, down twice: in ISO
# week 45 and week 47 (week 46 has no incident: a gap in the charts), three
# orders with an e-mail each time; each outage contained and resolved by ada
# (ingested in steps, so that the status changes fall at those instants);
# the review of the first written with two whys (a shallow flag) and two
# action items, one overdue. The second order of each outage is worth 150:
# a refund of 120 for it (above rob's limit of 50, not above the order's
# value) waits for an approval. Team messages go to a dir receiver whose path
# is a file, so they fail; it becomes a directory before the browser retries one.
L=$T/learn.db
python3 - "$T" <<'EOF'
import datetime as dt, json, sys
T = lambda s: dt.datetime.fromisoformat(s.replace('Z', '+00:00'))
iso = lambda x: x.strftime('%Y-%m-%dT%H:%M:%SZ')
down = [(T('2026-11-02T10:05:00Z'), T('2026-11-02T11:00:00Z')), (T('2026-11-16T10:05:00Z'), T('2026-11-16T11:30:00Z'))]
ev, t = [], T('2026-11-02T10:00:00Z')
while t <= T('2026-11-20T12:00:00Z'):
    st = 'down' if any(a <= t < b for a, b in down) else 'up'
    ev.append({"type": "health", "ts": iso(t), "system": "wms", "location": "wh-a", "status": st})
    t += dt.timedelta(minutes=4)
for k, (a, b) in enumerate(down):
    for i in range(3):
        ev.append({"type": "order", "ts": iso(a + dt.timedelta(minutes=12 + i)), "order_id": "o%d-%d" % (k + 1, i + 1),
                   "channel": "amazon", "location": "wh-a", "status": "accepted", "customer": "c%d-%d" % (k + 1, i + 1),
                   "value": (40, 150, 60)[i], "email": "c%d-%d@shop.example" % (k + 1, i + 1)})
ev.sort(key=lambda e: e["ts"])
cuts = ['2026-11-02T10:40:00Z', '2026-11-02T11:10:00Z', '2026-11-16T10:50:00Z', '2026-11-16T11:40:00Z']
parts = [[] for _ in cuts + [0]]
for e in ev:
    parts[sum(1 for c in cuts if e["ts"] >= c)].append(json.dumps(e) + '\n')
for i, p in enumerate(parts):
    open('%s/w%d.ndjson' % (sys.argv[1], i), 'w').write(''.join(p))
EOF
touch "$T/box"
cat >"$T/learn.yaml" <<EOF
roles:
  lead: {approve: ["*"], remedies: {"*": true}}
  agent: {remedies: {refund: 50, discount_code: true, cancel_with_refund: false}}
people:
  ada: {role: lead}
  rob: {role: agent}
receivers:
  box: {dir: $T/box, retries: 0}
  down: {webhook: "http://127.0.0.1:1/x", backoff: 1h}
notify: {team: [box, down]}
hooks:
  stop_order_import: {command: "echo the OMS refused >&2; exit 3", retries: 0}
EOF
cat >"$T/review.yaml" <<'EOF'
root_cause: {category: system, text: "the WMS host ran out of disk during its nightly job", known_risk: false}
whys:
  - orders stopped reaching the warehouse
  - the WMS stopped answering its health checks
went_well: [the outage was detected within 5 minutes]
improve: [nobody watched the WMS host's disk]
action_items:
  - {text: "alert on the WMS host's free disk", owner: ada, due: 2026-11-05, kind: immediate}
  - {text: "move the nightly job off the WMS host", owner: rob, due: 2026-12-31, kind: prevention}
EOF
lstep() { "$K" ingest --quiet "$T/w$1.ndjson" --db "$L" --config "$T/learn.yaml" >/dev/null 2>&1; }
lstatus() { "$K" incident status "$1" "$2" --by ada --db "$L" --config "$T/learn.yaml" >/dev/null; }
lstep 0 && lstatus 1 contained && lstep 1 && lstatus 1 resolved && lstep 2 && lstatus 2 contained &&
    lstep 3 && lstatus 2 resolved && lstep 4
check learn_scenario_ingested is "resolved resolved" "$("$K" incidents --json --db "$L" | jq -r 'map(.status) | join(" ")')"
check learn_review_written "$K" review set 1 --file "$T/review.yaml" --by ada --db "$L" --config "$T/learn.yaml"
for who in rob:responder ada:admin vera:viewer; do
    "$K" token create --name "${who%%:*}" --role "${who##*:}" --db "$L" >"$T/l-${who%%:*}.tok" 2>/dev/null
done
serve_on "$L" "$T/learn.yaml" "$T/serve2.err"
PID2=$SPID URL2=$SURL
check learn_server_starts test -n "$URL2"
LV=$(cat "$T/l-vera.tok") LR=$(cat "$T/l-rob.tok")
lpost() { curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d '{}' "$URL2$2"; }
check hooks_failed_in_the_scenario is "2" "$(curl -s -H "Authorization: Bearer $LV" "$URL2/v1/hooks?status=failed" | jq length)"
check messages_failed_before_the_retry is 10 "$(curl -s -H "Authorization: Bearer $LV" "$URL2/v1/messages?status=failed" | jq length)"
check retry_a_sent_or_unknown_message_refused is "404 403" "$(lpost "$LR" /v1/messages/999/retry) $(lpost "$LV" /v1/messages/1/retry)"
check retry_bad_id_400 is 400 "$(lpost "$LR" /v1/messages/x/retry)"
lget() { curl -s -H "Authorization: Bearer $LV" "$URL2$1"; }
check messages_page_and_brief is "$(lget '/v1/messages?incident=1' | jq -c '.[:2] | map(.body = null)')" \
    "$(lget '/v1/messages?incident=1&limit=2&view=brief' | jq -c .)"
check messages_total_header grep -qx "X-Total-Count: $(lget '/v1/messages?incident=1' | jq length)" \
    <(curl -s -D - -o /dev/null -H "Authorization: Bearer $LV" "$URL2/v1/messages?incident=1&limit=1" | tr -d '\r')
check messages_bad_view_400 is 400 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $LV" "$URL2/v1/messages?view=x")"
rm "$T/box" && mkdir "$T/box" # the receiver is fixed: a retry now goes through

# ---- the browser -------------------------------------------------------------------------
OPEN=$(curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/incidents" |
    jq -r '[.[] | select(.status != "resolved") | .id] | join(",")')
CORRUPT=$(curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/guard" |
    jq -r '[.channels[] | select(.incident != null) | .incident][0] // empty')
check scenario_has_open_incidents test -n "$OPEN"
# /metrics says what to alert on: hook calls of open incidents that gave up,
# messages that gave up by receiver (the second scenario's incidents are
# resolved: its failed calls are not counted).
metric() { curl -s -H "Authorization: Bearer $2" "$1/metrics" | awk -v s="$3" '$1 == s { print $2 }'; }
GAVE_UP=$(curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/hooks?status=failed" |
    jq --argjson open "[$OPEN]" '[.[] | select(.incident as $i | $open | index($i))] | length')
check metrics_hooks_gave_up_open is "$GAVE_UP" "$(metric "$URL" "$VIEW" kintsugi_hooks_gave_up_open)"
check metrics_hooks_gave_up_counted [ "$GAVE_UP" -ge 1 ]
check metrics_resolved_not_counted is 0 "$(metric "$URL2" "$LV" kintsugi_hooks_gave_up_open)"
check metrics_messages_failed_by_receiver is 10 "$(metric "$URL2" "$LV" 'kintsugi_messages_failed{receiver="box"}')"
check scenario_holds_a_corrupt_update test -n "$CORRUPT"
rm -rf "$SHOTS"
(cd "$BR" && KS_URL=$URL KS_RESPONDER=$(cat "$T/rob.tok") KS_ADMIN=$(cat "$T/ada.tok") \
    KS_VIEWER=$VIEW KS_REVOKED=$(cat "$T/gone.tok") KS_OPEN=$OPEN KS_CORRUPT=$CORRUPT \
    KS_URL2=$URL2 KS_R2=$LR KS_A2=$(cat "$T/l-ada.tok") KS_V2=$LV \
    KS_SHOTS=$SHOTS timeout 300 node dashboard.mjs) >"$T/browser.out" 2>&1
rc=$?
cat "$T/browser.out"
p=$(grep -c '^ok ' "$T/browser.out")
f=$(grep -c '^FAIL ' "$T/browser.out")
passed=$((passed + p))
failed=$((failed + f))
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL browser: exit $rc"
    failed=$((failed + 1))
fi
check browser_ran_every_check test "$p" -ge 30
check screenshots_saved test "$(ls "$SHOTS"/*.png 2>/dev/null | wc -l)" -ge 12

kill -TERM "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
check server_stops_cleanly is 0 "$?"
# The retries the browser made (one message, then every failed one of box)
# are journaled: after a kill -9 the server comes back with each message
# sent once and the notes on the timeline once.
lstate() {
    echo "$(curl -s -H "Authorization: Bearer $LV" "$URL2/v1/messages?status=sent&receiver=box" | jq -c 'map([.id, .attempts])')" \
        "$(curl -s -H "Authorization: Bearer $LV" "$URL2/v1/incidents/1" | jq '[.timeline[] | select(.text | test("queued again by hand by rob"))] | length')" \
        "$(ls "$T/box" | wc -l)"
}
BEFORE=$(lstate)
# every message of box sent, each by one attempt (down's wait behind its retry)
BOX_ONCE=$(curl -s -H "Authorization: Bearer $LV" "$URL2/v1/messages?receiver=box" | jq -c 'map([.id, 1])')
check browser_retried_every_message is "$BOX_ONCE 2 10" "$BEFORE"
check box_had_10_messages is 10 "$(echo "$BOX_ONCE" | jq length)"
kill -9 "$PID2"
wait "$PID2" 2>/dev/null
serve_on "$L" "$T/learn.yaml" "$T/serve3.err"
PID2=$SPID URL2=$SURL
sleep 1.5 # a deliverer pass: nothing is sent again
check retry_survives_kill_9_once is "$BEFORE" "$(lstate)"
kill -TERM "$PID2" 2>/dev/null
wait "$PID2" 2>/dev/null
check learn_server_stops_cleanly is 0 "$?"

# ---- kintsugi demo ends on the dashboard, on a terminal only --------------------------------
"$K" demo --db "$T/d1.db" </dev/null >"$T/demo1.out" 2>&1
check demo_unattended_exits_0 is 0 "$?"
check demo_unattended_says_how_to_serve grep -q -- "kintsugi serve --db $T/d1.db --config $T/d1-kintsugi.yaml --clock event" "$T/demo1.out"
check demo_unattended_does_not_serve bash -c "! grep -q 'listening on' '$T/demo1.out'"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# script(1) gives the demo a terminal
script -qfec "$K demo --db $T/d2.db --listen 127.0.0.1:$PORT" /dev/null >"$T/demo2.out" 2>&1 &
SPID=$!
PIDS+=("$SPID")
for _ in $(seq 1 600); do
    grep -q '^listening on' "$T/demo2.out" && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
done
check demo_on_a_terminal_serves grep -q "^the dashboard: http://127.0.0.1:$PORT/" "$T/demo2.out"
DTOK=$(sed -n 's/^  sign in with the viewer token  //p' "$T/demo2.out" | tr -d '\r')
check demo_prints_a_viewer_token is '{"name":"demo-viewer","role":"viewer"}' \
    "$(curl -s -H "Authorization: Bearer $DTOK" "http://127.0.0.1:$PORT/v1/whoami")"
check demo_serves_the_dashboard is 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")"
# A second demo on the port the first one serves finds it busy before it
# simulates anything: exit 1, saying which address, no database written.
script -qfec "$K demo --db $T/d3.db --listen 127.0.0.1:$PORT" /dev/null >"$T/demo3.out" 2>&1
check demo_busy_port_exits_1 is 1 "$?"
check demo_busy_port_says_so grep -q "cannot serve the dashboard on 127.0.0.1:$PORT: .*in use" "$T/demo3.out"
check demo_busy_port_before_simulating bash -c "! grep -q simulating '$T/demo3.out' && [ ! -e '$T/d3.db' ]"
check demo_bad_listen_is_usage exit_is 2 "$K" demo --no-serve --db "$T/d4.db" --listen 127.0.0.1:http
# Ctrl-C: SIGINT to the server (script's child, found by its parent's PID)
DPID=$(pgrep -P "$SPID" | head -1)
while [ -n "$DPID" ] && [ "$(cat /proc/"$DPID"/comm 2>/dev/null)" != kintsugi ]; do
    DPID=$(pgrep -P "$DPID" | head -1)
done
[ -n "$DPID" ] && kill -INT "$DPID"
wait "$SPID"
check demo_stops_on_ctrl_c is 0 "$?"
check demo_saved_on_ctrl_c grep -q 'stopped; state saved' "$T/demo2.out"
echo "RESULT passed=$passed failed=$failed"
