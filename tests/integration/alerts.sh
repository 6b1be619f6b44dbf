#!/usr/bin/env bash
# Alerts over HTTP (docs/ALERTS.md "Over HTTP"): POST /v2/enqueue and
# POST /v1/alertmanager of `kintsugi serve`, with the real senders:
#  - PagerDuty's own JavaScript client, @pagerduty/pdjs (tests/clients/pdjs,
#    `npm ci` when node_modules is missing), authenticating by routing_key:
#    a trigger without a dedup_key, acknowledge, resolve, each followed by
#    the exact state of the incident;
#  - Debian's prometheus-alertmanager, one receiver with a webhook_config
#    (bearer credentials) and a pagerduty_config (routing_key a token) both
#    pointed at kintsugi: a group of two alerts fires, one resolves, both
#    resolve, and kintsugi keeps ONE incident for the group;
#  - the captured bodies of tests/unit/alerts/ posted with curl: the same
#    body twice, a truncated body, PagerDuty's exact 400 bodies, a generated
#    dedup_key surviving kill -9, no token kept in the database.
# Every server is started on a free port and stopped by its PID.
# Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/serve_lib.bash"
ROOT=$PWD
FX=tests/unit/alerts

# post PATH BODY [TOKEN [TYPE]]: sets CODE and BODY (TOKEN "" sends no header)
post() {
    local args=(-s -o "$T/body" -w '%{http_code}' -H "Content-Type: ${4:-application/json}"
        --data-binary "$2" "$URL$1")
    [ -n "${3:-}" ] && args+=(-H "Authorization: Bearer $3")
    CODE=$(curl "${args[@]}")
    BODY=$(cat "$T/body")
}
# inc ID JQ: the incident's JSON through jq -c (as a viewer would read it)
inc() { curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/incidents/$1" | jq -c "$2"; }
inr() { inc "$1" "$2" | jq -r .; } # a string of the incident, raw
incidents() { curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/incidents" | jq -c "$1"; }
# until_is SECONDS WANT CMD...: polls CMD until it prints WANT
until_is() {
    local secs=$1 want=$2 got="" i
    shift 2
    for i in $(seq 1 $((secs * 10))); do
        got=$("$@" 2>/dev/null)
        [ "$got" = "$want" ] && return 0
        sleep 0.1
    done
    echo "after ${secs}s, want: $want"
    echo "got:             $got"
    return 1
}

tokens() { # DB: an admin-free set: pager and am (responder), vic (viewer)
    "$K" token create --name pager --role responder --db "$1" >"$T/pager.tok" 2>/dev/null
    "$K" token create --name am --role responder --db "$1" >"$T/am.tok" 2>/dev/null
    "$K" token create --name vic --role viewer --db "$1" >"$T/vic.tok" 2>/dev/null
    PAGER=$(cat "$T/pager.tok") AM=$(cat "$T/am.tok") VIEW=$(cat "$T/vic.tok")
}

# ---- PagerDuty's JavaScript client --------------------------------------------------
PDJS=tests/clients/pdjs
pdjs_ready() {
    command -v node >/dev/null && command -v npm >/dev/null || {
        echo "node and npm are missing (scripts/deps.sh installs them)"
        return 1
    }
    [ -d "$PDJS/node_modules/@pagerduty/pdjs" ] && return 0
    (cd "$PDJS" && npm ci --no-audit --no-fund --loglevel=error)
}
check pdjs_installed pdjs_ready
# pdjs speaks only https: send.mjs fronts kintsugi with TLS on a certificate made here.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -keyout "$T/tls.key" -out "$T/tls.crt" -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
pd() { # ACTION [DEDUP_KEY [DATA]]: sets CODE and BODY from pdjs's answer
    local out
    out=$(cd "$PDJS" && KS_URL=$URL TLS_CERT=$T/tls.crt TLS_KEY=$T/tls.key \
        node send.mjs "$PAGER" "$@")
    CODE=$(jq -r .status <<<"$out")
    BODY=$(jq -c .data <<<"$out")
}

DB=$T/pd.db
tokens "$DB"
check pd_server_starts start pd "$DB"
TRIG='{"payload":{"summary":"Amazon orders rejected","source":"checkout-7","severity":"error","component":"checkout","custom_details":{"channel":"amazon","location":"berlin"}}}'
pd trigger "" "$TRIG"
KEY=$(jq -r .dedup_key <<<"$BODY")
check pdjs_trigger_202 is 202 "$CODE"
check pdjs_trigger_answer is '{"status":"success","message":"Event processed","dedup_key":"'"$KEY"'"}' "$BODY"
check pdjs_generated_key_is_a_uuid grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}' <<<"$KEY"
check pdjs_one_incident is 1 "$(incidents length)"
check pdjs_trigger_state is '["external","P2","investigating","Amazon orders rejected","pagerduty","'"$KEY"'",["amazon"],["berlin"],["checkout"],null]' \
    "$(inc 1 '[.type, .severity, .status, .title, .source, .dedup_key, .scope.channels, .scope.locations, .scope.systems, .acknowledged_at]')"
check pdjs_trigger_signal is '[["signal","kintsugi","pagerduty: trigger from checkout-7 (error): Amazon orders rejected"]]' \
    "$(inc 1 '[.timeline[] | [.kind, .actor, .text]]')"
pd acknowledge "$KEY"
check pdjs_ack_202 is 202 "$CODE"
check pdjs_ack_state is '["investigating","pager",true,["note","pager","Acknowledged by pager"]]' \
    "$(inc 1 '[.status, .owner, (.acknowledged_at != null), (.timeline[-1] | [.kind, .actor, .text])]')"
pd resolve "$KEY"
check pdjs_resolve_202 is 202 "$CODE"
check pdjs_resolve_answer is '{"status":"success","message":"Event processed","dedup_key":"'"$KEY"'"}' "$BODY"
check pdjs_resolve_state is '["resolved","P2",["status","pager","Status resolved, set by pager"]]' \
    "$(inc 1 '[.status, .severity, (.timeline[] | select(.kind == "status") | [.kind, .actor, .text])]')"
before=$(inc 1 .)
pd resolve "$KEY"
check pdjs_resolve_again_202 is 202 "$CODE"
check pdjs_resolve_again_changes_nothing is "$before" "$(inc 1 .)"
pd acknowledge unknown-key
check pdjs_unknown_key_202 is '202 {"status":"success","message":"Event processed","dedup_key":"unknown-key"}' "$CODE $BODY"
check pdjs_still_one_incident is 1 "$(incidents length)"
pd trigger "" '{"payload":{"summary":"x","source":"y","severity":"urgent"}}'
check pdjs_invalid_400 is '400 {"status":"invalid event","message":"Event object is invalid","errors":["'"'"'payload.severity'"'"' is invalid (must be one of the following: '"'"'critical'"'"', '"'"'warning'"'"', '"'"'error'"'"' or '"'"'info'"'"')"]}' "$CODE $BODY"
# The generated key is journaled with the event: kill -9, then the restart
# re-applies the journal with the same key; the token itself is never stored.
pd trigger "" '{"payload":{"summary":"Feed stalled","source":"feeder","severity":"critical"}}'
KEY2=$(jq -r .dedup_key <<<"$BODY")
check pdjs_second_trigger is '202 P1' "$CODE $(inr 2 .severity)"
stop "$PID" 9
check no_token_in_the_database sh -c "! cat '$DB'* | grep -aqF '$PAGER'"
check pd_restarts_after_kill start pd2 "$DB"
check generated_key_survives_kill is "[\"$KEY2\",\"P1\",\"investigating\"]" "$(inc 2 '[.dedup_key, .severity, .status]')"
pd resolve "$KEY2"
check resolve_by_generated_key_after_restart is '202 resolved' "$CODE $(inr 2 .status)"
# Authentication: a routing_key that is no token, a viewer's token, a header.
post /v2/enqueue "$(jq -c '.routing_key = "R0UT1NGKEY"' "$FX/pagerduty-trigger.json")"
check foreign_routing_key_401 is 401 "$CODE"
post /v2/enqueue "$(jq -c --arg k "$VIEW" '.routing_key = $k' "$FX/pagerduty-trigger.json")"
check viewer_routing_key_403 is 403 "$CODE"
post /v2/enqueue "$(cat "$FX/pagerduty-trigger.json")" "$AM"
check bearer_with_any_routing_key_202 is 202 "$CODE"
post /v2/enqueue "$(jq -c --arg k "$(jq -r .dedup_key "$FX/pagerduty-trigger.json")" '.dedup_key = $k' "$FX/pagerduty-acknowledge.json")" "$AM"
check bearer_names_the_actor is '202 ["note","am","Acknowledged by am"]' "$CODE $(inc 3 '.timeline[-1] | [.kind, .actor, .text]')"
stop "$PID"

# ---- the captured bodies, with curl ----------------------------------------------------
DB=$T/fx.db
tokens "$DB"
check fx_server_starts start fx "$DB"
post /v1/alertmanager "$(cat "$FX/webhook-firing.json")" "$AM"
check webhook_opens is '200 {"op":"am_webhook","by":"am","incident":1,"change":"opened"}' \
    "$CODE $(jq -c 'del(.dedup_key)' <<<"$BODY")"
first=$(inc 1 .)
post /v1/alertmanager "$(cat "$FX/webhook-firing.json")" "$AM"
check same_body_twice_unchanged is '200 unchanged 1' "$CODE $(jq -r '"\(.change) \(.incident)"' <<<"$BODY")"
check same_body_twice_changes_nothing is "$first" "$(inc 1 .)"
post /v1/alertmanager "$(cat "$FX/webhook-resolved.json")" "$AM"
check webhook_resolves is '200 resolved resolved' "$CODE $(jq -r .change <<<"$BODY") $(inr 1 .status)"
check webhook_resolved_by_token is '"am"' "$(inc 1 '.timeline[] | select(.kind == "status") | .actor')"
post /v1/alertmanager "$(cat "$FX/webhook-resolved.json")" "$AM"
check resolved_body_again_unchanged is '200 unchanged' "$CODE $(jq -r .change <<<"$BODY")"
# a UTF-8 byte order mark before the JSON (some tools write one) is taken off
post /v1/alertmanager "$(printf '\xef\xbb\xbf'; cat "$FX/webhook-resolved.json")" "$AM"
check bom_body_read is '200 unchanged' "$CODE $(jq -r .change <<<"$BODY")"
# A group opened, then a truncated body in which every alert it names is
# resolved: the alerts left out may still fire, so it does not resolve.
post /v1/alertmanager "$(cat "$FX/webhook-group-firing.json")" "$AM"
check group_opens is '200 opened 2' "$CODE $(jq -r '"\(.change) \(.incident)"' <<<"$BODY")"
post /v1/alertmanager "$(jq -c '.truncatedAlerts = 3 | .status = "resolved" | .alerts |= map(.status = "resolved" | .endsAt = "2026-01-01T00:00:00Z")' "$FX/webhook-group-firing.json")" "$AM"
check truncated_body_does_not_resolve is '200 updated 2 investigating' \
    "$CODE $(jq -r '"\(.change) \(.incident)"' <<<"$BODY") $(inr 2 .status)"
check truncated_alerts_resolved is '["resolved","resolved"]' "$(inc 2 '[.alerts[].status]')"
# The brief list leaves out a group's alerts and details (a group may hold thousands).
check brief_view_without_alerts is '[false,false]' "$(curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/incidents?view=brief" | jq -c '[.[] | select(.id == 2) | has("alerts"), has("details")]')"
check full_list_keeps_them is '[true,true]' "$(incidents '[.[] | select(.id == 2) | has("alerts"), has("details")]')"
# The group's PagerDuty receiver meets the webhook's incident (one key).
post /v2/enqueue "$(cat "$FX/pagerduty-group-trigger.json")" "$AM"
check pd_receiver_joins_the_group is '202 2' "$CODE $(incidents length)"
check pd_receiver_same_key is "$(inc 2 .dedup_key)" "\"$(jq -r .dedup_key "$FX/pagerduty-group-trigger.json")\""
# Invalid bodies: kintsugi's shape for the webhook, PagerDuty's exact bodies for /v2/enqueue.
post /v1/alertmanager "$(jq -c '.alerts[1].fingerprint = null' "$FX/webhook-group-firing.json")" "$AM"
check webhook_invalid_names_the_field is '400 invalid alertmanager: field "alerts[1].fingerprint" is required' \
    "$CODE $(jq -r '"\(.error.code) \(.error.message)"' <<<"$BODY")"
post /v1/alertmanager '{"version":"3"}' "$AM"
check webhook_version_400 is 400 "$CODE"
post /v2/enqueue "$(jq -c 'del(.payload.summary) | .payload.severity = "urgent" | .dedup_key = ""' "$FX/pagerduty-trigger.json")" "$AM"
check pd_invalid_exact_400 is '400 {"status":"invalid event","message":"Event object is invalid","errors":["'"'"'payload.summary'"'"' is missing or blank","'"'"'payload.severity'"'"' is invalid (must be one of the following: '"'"'critical'"'"', '"'"'warning'"'"', '"'"'error'"'"' or '"'"'info'"'"')"]}' "$CODE $BODY"
post /v2/enqueue '{"routing_key": ' "$AM"
check pd_unparsable_exact_400 is '400 {"status":"Unrecognized object","message":"Event object format is unrecognized","errors":["JSON parse error"]}' "$CODE $BODY"
post /v2/enqueue "$(jq -c '.event_action = "acknowledge" | del(.dedup_key)' "$FX/pagerduty-trigger.json")" "$AM"
check pd_ack_without_key_400 is "400 [\"'dedup_key' is missing or blank\"]" "$CODE $(jq -c .errors <<<"$BODY")"
post /v2/enqueue "$(cat "$FX/pagerduty-trigger.json")" "$AM" 'application/json; charset=utf-8'
check pd_charset_taken is 202 "$CODE"
post /v2/enqueue "$(cat "$FX/pagerduty-trigger.json")" "$AM" text/plain
check pd_other_type_415 is 415 "$CODE"
head -c 600000 /dev/zero | tr '\0' ' ' >"$T/big.json"
post /v2/enqueue "@$T/big.json" "$AM"
check pd_over_512k_413 is 413 "$CODE"
# Exactly 512 KB is taken, though the event as journaled (its routing_key
# hashed, a dedup_key set) is longer; one byte more is the server's 413.
pd_sized() { # SIZE: a trigger of exactly SIZE bytes, padded in custom_details
    python3 - "$1" <<'PY'
import json, sys
size = int(sys.argv[1])
ev = {"routing_key": "r", "event_action": "trigger",
      "payload": {"summary": "big", "source": "s", "severity": "info", "custom_details": {"pad": ""}}}
ev["payload"]["custom_details"]["pad"] = "x" * (size - len(json.dumps(ev, separators=(",", ":"))))
sys.stdout.write(json.dumps(ev, separators=(",", ":")))
PY
}
pd_sized 524288 >"$T/512k.json"
check pd_512k_is_524288_bytes is 524288 "$(stat -c %s "$T/512k.json")"
post /v2/enqueue "@$T/512k.json" "$AM"
check pd_exactly_512k_202 is '202 success' "$CODE $(jq -r .status <<<"$BODY")"
pd_sized 524289 >"$T/512k1.json"
post /v2/enqueue "@$T/512k1.json" "$AM"
check pd_512k_plus_one_413 is '413 too_large' "$CODE $(jq -r .error.code <<<"$BODY")"
# A compressed body is refused, in kintsugi's shape as every error that is
# not the sender's event: nothing is read, nothing applied.
gzip -c "$FX/pagerduty-trigger.json" >"$T/pd.gz"
n_before=$(incidents length)
curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' \
    -H "Authorization: Bearer $AM" --data-binary "@$T/pd.gz" "$URL/v2/enqueue" >"$T/code"
check pd_gzip_415 is '415 unsupported_media_type' "$(cat "$T/code") $(jq -r .error.code "$T/body")"
check pd_gzip_names_the_coding grep -q 'Content-Encoding gzip' "$T/body"
gzip -c "$FX/webhook-firing.json" >"$T/am.gz"
curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' \
    -H "Authorization: Bearer $AM" --data-binary "@$T/am.gz" "$URL/v1/alertmanager" >"$T/code"
check webhook_gzip_415 is '415 unsupported_media_type' "$(cat "$T/code") $(jq -r .error.code "$T/body")"
check gzip_applies_nothing is "$n_before" "$(incidents length)"
# A body that is not JSON is bad_json, as on every route that takes JSON.
post /v1/alertmanager 'not json' "$AM"
check webhook_not_json_bad_json is '400 bad_json' "$CODE $(jq -r .error.code <<<"$BODY")"
post /v1/alertmanager "$(cat "$FX/webhook-firing.json")" "$VIEW"
check webhook_viewer_403 is 403 "$CODE"
post /v1/alertmanager "$(cat "$FX/webhook-firing.json")" ""
check webhook_needs_a_token_401 is 401 "$CODE"
check webhook_needs_a_token_says_how is 'no token: send Authorization: Bearer ks_... (kintsugi token create makes one)' "$(jq -r .error.message <<<"$BODY")"
post /v1/alertmanager "$(cat "$FX/webhook-firing.json")" "$AM "
check token_with_trailing_space_taken is 200 "$CODE"
stop "$PID"

# ---- Prometheus Alertmanager, both receivers at kintsugi ------------------------------
AMBIN=$(command -v prometheus-alertmanager || command -v alertmanager)
check alertmanager_installed test -n "$AMBIN"
DB=$T/am.db
tokens "$DB"
check am_server_starts start am "$DB"
cat >"$T/alertmanager.yml" <<EOF
route:
  receiver: kintsugi
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: kintsugi
    webhook_configs:
      - url: $URL/v1/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: $AM
    pagerduty_configs:
      - routing_key: $PAGER
        url: $URL/v2/enqueue
        send_resolved: true
        description: '{{ .CommonAnnotations.summary }}'
        severity: '{{ if .CommonLabels.severity }}{{ .CommonLabels.severity }}{{ else }}error{{ end }}'
EOF
am_start() {
    local i
    for i in 1 2 3; do
        AMPORT=$(free_port) || return 1 # (Alertmanager takes no port 0)
        mkdir -p "$T/am-data"
        "$AMBIN" --config.file="$T/alertmanager.yml" --storage.path="$T/am-data" \
            --web.listen-address="127.0.0.1:$AMPORT" --cluster.listen-address= \
            --log.level=warn >"$T/am.log" 2>&1 &
        AMPID=$!
        PIDS+=("$AMPID")
        for _ in $(seq 1 100); do
            curl -sf "http://127.0.0.1:$AMPORT/-/ready" >/dev/null && return 0
            kill -0 "$AMPID" 2>/dev/null || break
            sleep 0.1
        done
        kill "$AMPID" 2>/dev/null
        wait "$AMPID" 2>/dev/null
    done
    cat "$T/am.log"
    return 1
}
check alertmanager_starts am_start
STARTS=""
# post_alerts NAME...: posts the group to Alertmanager's own API; a name
# followed by = resolved gets an endsAt in the past.
post_alerts() {
    local past body="[" sep="" a loc ends
    # one start for the group's alerts, before any end
    STARTS=${STARTS:-$(date -u -d '-20 seconds' +%Y-%m-%dT%H:%M:%SZ)}
    past=$(date -u -d '-2 seconds' +%Y-%m-%dT%H:%M:%SZ)
    for a in "$@"; do
        loc=${a%=*}
        ends=""
        [ "$a" != "$loc" ] && ends=",\"endsAt\":\"$past\""
        body+="$sep{\"labels\":{\"alertname\":\"WarehouseDown\",\"severity\":\"critical\",\"channel\":\"amazon\",\"component\":\"wms\",\"location\":\"$loc\"},\"annotations\":{\"summary\":\"Warehouse WMS down\"},\"startsAt\":\"$STARTS\"$ends}"
        sep=","
    done
    curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary "$body]" \
        "http://127.0.0.1:$AMPORT/api/v2/alerts"
}
check alerts_posted post_alerts berlin paris
group_state() { # incidents, then the first one's status and alerts
    incidents '[length, .[0].status]'
    inc 1 '[.alerts[] | [(.name | capture("location=\"(?<l>[a-z]+)\"").l), .status]]'
}
check am_group_opens_one_incident until_is 20 '[1,"investigating"]
[["berlin","firing"],["paris","firing"]]' group_state
# Both receivers sent (the PagerDuty receiver's trigger carries the group's key).
pd_arrived() { inc 1 '[.routing_key_hash != null, (.signals | map(.detector) | unique)]'; }
check am_both_receivers_met until_is 20 '[true,["alertmanager","pagerduty"]]' pd_arrived
check am_severity_and_scope is '["P1","external","Warehouse WMS down",["amazon"],["berlin","paris"],["wms"]]' \
    "$(inc 1 '[.severity, .type, .title, .scope.channels, .scope.locations, .scope.systems]')"
GK=$(inc 1 .group_key | jq -r .)
check am_group_key_is_the_dedup_key is "$(inc 1 .dedup_key)" "\"$(printf %s "$GK" | sha256sum | cut -c1-64)\""
check one_resolved_posted post_alerts berlin= paris
check am_group_updated until_is 20 '[1,"investigating"]
[["berlin","resolved"],["paris","firing"]]' group_state
check am_berlin_resolved_note is '["alertmanager: WarehouseDown{location=\"berlin\"} resolved"]' \
    "$(inc 1 '[.timeline[] | select(.kind == "note" and (.text | test(" resolved \\(fingerprint"))) | .text | sub(" \\(fingerprint.*"; "")]')"
check both_resolved_posted post_alerts berlin= paris=
resolved_state() { incidents '[length, .[0].status, .[0].severity]'; }
check am_group_resolved until_is 20 '[1,"resolved","P1"]' resolved_state
check am_resolved_by_a_token grep -Eqx '"(am|pager)"' <<<"$(inc 1 '.timeline[] | select(.kind == "status") | .actor')"
# A few more group intervals: nothing reopens, still one incident.
sleep 3
check am_still_one_incident is '[1,"resolved","P1"]' "$(resolved_state)"
stop "$AMPID"
stop "$PID"

echo "RESULT passed=$passed failed=$failed"
