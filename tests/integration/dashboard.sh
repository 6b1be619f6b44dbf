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
is() { # WANT GOT...: equal, else say both
    local want=$1
    shift
    [ "$*" = "$want" ] || { echo "want: $want"; echo "got:  $*"; return 1; }
}

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

# ---- the scenario --------------------------------------------------------------------
DB=$T/shop.db
"$K" simulate --fault zero-spike,stall-one,wms-one,schema-change --skus 400 --seed 3 \
    --out "$T/day.ndjson" 2>/dev/null
cat >"$T/kintsugi.yaml" <<'EOF'
roles:
  lead: {approve: ["*"]}
people:
  ada: {role: lead}
EOF
check scenario_ingested "$K" ingest "$T/day.ndjson" --db "$DB" --config "$T/kintsugi.yaml"
"$K" token create --name rob --role responder --db "$DB" >"$T/rob.tok" 2>/dev/null
"$K" token create --name ada --role admin --db "$DB" >"$T/ada.tok" 2>/dev/null
"$K" token create --name vera --role viewer --db "$DB" >"$T/vera.tok" 2>/dev/null
"$K" token create --name gone --role responder --db "$DB" >"$T/gone.tok" 2>/dev/null
"$K" token revoke gone --db "$DB" >/dev/null 2>&1
VIEW=$(cat "$T/vera.tok")

"$K" serve --listen 127.0.0.1:0 --db "$DB" --config "$T/kintsugi.yaml" --clock event 2>"$T/serve.err" &
PID=$!
PIDS+=("$PID")
URL=""
for _ in $(seq 1 600); do
    URL=$(sed -n 's/^listening on //p' "$T/serve.err" | head -1)
    [ -n "$URL" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
done
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

# ---- the browser -------------------------------------------------------------------------
OPEN=$(curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/incidents" |
    jq -r '[.[] | select(.status != "resolved") | .id] | join(",")')
CORRUPT=$(curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/guard" |
    jq -r '[.channels[] | select(.incident != null) | .incident][0] // empty')
check scenario_has_open_incidents test -n "$OPEN"
check scenario_holds_a_corrupt_update test -n "$CORRUPT"
rm -rf "$SHOTS"
(cd "$BR" && KS_URL=$URL KS_RESPONDER=$(cat "$T/rob.tok") KS_ADMIN=$(cat "$T/ada.tok") \
    KS_VIEWER=$VIEW KS_REVOKED=$(cat "$T/gone.tok") KS_OPEN=$OPEN KS_CORRUPT=$CORRUPT \
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
