#!/usr/bin/env bash
# kintsugi serve's /metrics checked by Prometheus's own tools: events posted
# (accepted, duplicates, rejected) and an action, then `promtool check
# metrics` must find nothing, the counters must have their exact values, and
# a real Prometheus server (Debian's prometheus package) scraping the server
# every second with a bearer token must come to hold them, and evaluate the
# alerting rules of examples/prometheus-rules.yml. Every process is
# stopped by its PID. Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    echo "promtool and prometheus are needed (Debian package prometheus: make deps)"
    echo "RESULT passed=0 failed=1"
    exit 1
fi

DB=$T/m.db
"$K" token create --name feeder --role responder --db "$DB" >"$T/feeder.tok" 2>/dev/null
"$K" token create --name scraper --role viewer --db "$DB" >"$T/scraper.tok" 2>/dev/null
FEED=$(cat "$T/feeder.tok") SCRAPE=$(cat "$T/scraper.tok")

"$K" serve --listen 127.0.0.1:0 --db "$DB" --clock event 2>"$T/serve.err" &
PID=$!
PIDS+=("$PID")
URL=""
for _ in $(seq 1 600); do
    URL=$(sed -n 's/^listening on //p' "$T/serve.err" | head -1)
    [ -n "$URL" ] && break
    sleep 0.05
done
check serve_starts [ -n "$URL" ]

post() { # BODY [QUERY]: the answer's body
    curl -s -H "Authorization: Bearer $FEED" -H 'Content-Type: application/x-ndjson' \
        --data-binary "$1" "$URL/v1/events${2:-}"
}
# A corrupt update (80 inventory lines, 2 syncs: all accepted; one
# data_corruption P1 incident), then 2 syncs with one id (1 accepted, 1
# duplicate), one written with spaces after the colons as many serializers
# do (counted as a sync all the same), a sync with a bad status and a line
# that is not JSON (rejected).
A=$(post "$(cat "$SC/zero_spike_p1/events.ndjson")" '?end=true')
check scenario_accepted [ "$(jq -c '[.accepted, .duplicates, (.rejected | length)]' <<<"$A")" = '[82,0,0]' ]
B=$(post '{"id":"m1","type":"sync","ts":"2026-11-22T12:00:00Z","channel":"ebay","status":"ok"}
{"id":"m1","type":"sync","ts":"2026-11-22T12:00:00Z","channel":"ebay","status":"ok"}
{"id": "m2", "type" : "sync", "ts": "2026-11-22T12:00:00Z", "channel": "ebay", "status": "ok"}
{"type":"sync","ts":"2026-11-22T12:00:01Z","channel":"ebay","status":"fine"}
not json')
check second_batch_counts [ "$(jq -c '[.accepted, .duplicates, (.rejected | length)]' <<<"$B")" = '[2,1,2]' ]
ACK=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $FEED" -H 'Content-Type: application/json' \
    --data-binary '{}' "$URL/v1/incidents/1/ack")
check ack_200 [ "$ACK" = 200 ]

curl -s -o "$T/metrics" -D "$T/headers" -H "Authorization: Bearer $SCRAPE" "$URL/metrics"
check content_type_0_0_4 grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$T/headers"
lint() { # promtool prints each problem; clean is no output and exit 0
    promtool check metrics <"$T/metrics" >"$T/lint" 2>&1 || { cat "$T/lint"; return 1; }
    [ ! -s "$T/lint" ] || { cat "$T/lint"; return 1; }
}
check promtool_clean lint
value() { # SAMPLE (name and labels as exposed): its value
    awk -v s="$1" '$1 == s { print $2 }' "$T/metrics"
}
is() { # SAMPLE WANT
    local v
    v=$(value "$1")
    [ "$v" = "$2" ] || { echo "$1 is '$v', want $2"; return 1; }
}
check inventory_accepted is 'kintsugi_events_total{type="inventory",outcome="accepted"}' 80
check sync_accepted is 'kintsugi_events_total{type="sync",outcome="accepted"}' 4
check sync_duplicate is 'kintsugi_events_total{type="sync",outcome="duplicate"}' 1
check sync_rejected is 'kintsugi_events_total{type="sync",outcome="rejected"}' 1
check other_rejected is 'kintsugi_events_total{type="other",outcome="rejected"}' 1
check order_none is 'kintsugi_events_total{type="order",outcome="accepted"}' 0
check every_type_outcome_pair [ "$(grep -c '^kintsugi_events_total{' "$T/metrics")" = 33 ]
check incident_opened is 'kintsugi_incidents_opened_total{type="data_corruption",severity="P1"}' 1
check incident_p2_none is 'kintsugi_incidents_opened_total{type="data_corruption",severity="P2"}' 0
check incident_open_p1 is 'kintsugi_incidents_open{severity="P1"}' 1
check ack_counted is 'kintsugi_http_requests_total{route="/v1/incidents/{id}/ack",code="2xx"}' 1
check events_requests is 'kintsugi_http_requests_total{route="/v1/events",code="2xx"}' 2
check ready is kintsugi_ready 1
# An incident raised later stays counted under the severity it was detected
# with: a counter's series never goes down (ebay, last ok at 12:00, goes
# stale at 13:00 as a P3 and is raised to P2 an hour later).
p3=$(value 'kintsugi_incidents_opened_total{type="sync_failure",severity="P3"}')
post '{"type":"tick","ts":"2026-11-22T13:00:01Z"}' >/dev/null
curl -s -o "$T/metrics" -H "Authorization: Bearer $SCRAPE" "$URL/metrics"
p3b=$(value 'kintsugi_incidents_opened_total{type="sync_failure",severity="P3"}')
post '{"type":"tick","ts":"2026-11-22T15:00:01Z"}' >/dev/null
curl -s -o "$T/metrics" -H "Authorization: Bearer $SCRAPE" "$URL/metrics"
check opened_by_detection_severity is 'kintsugi_incidents_opened_total{type="sync_failure",severity="P3"}' "$p3b"
check opened_p3_counted [ "$p3b" -gt "${p3:-0}" ]
check raised_incident_open_p2 [ "$(value 'kintsugi_incidents_open{severity="P2"}')" -ge 1 ]
# Bucket bounds and values are written as Prometheus's client libraries
# write them, the shortest form that reads back the same (le="0.1", not
# le="0.10000000000000001"): a query on le="0.1" must find the bucket.
check le_0_1_exact grep -q '^kintsugi_http_request_duration_seconds_bucket{route="/v1/events",le="0.1"} ' "$T/metrics"
check le_0_0005_exact grep -q '^kintsugi_http_request_duration_seconds_bucket{route="/v1/events",le="0.0005"} ' "$T/metrics"
check le_0_0025_exact grep -q '^kintsugi_http_request_duration_seconds_bucket{route="/v1/events",le="0.0025"} ' "$T/metrics"
check le_inf_exact is 'kintsugi_http_request_duration_seconds_bucket{route="/v1/events",le="+Inf"}' 4
gap_bounds() {
    local got
    got=$(grep -o '^kintsugi_detection_gap_seconds_bucket{le="[^"]*"}' "$T/metrics" | sed 's/.*le="//; s/"}//' | tr '\n' ' ')
    [ "$got" = '0 1 5 15 60 300 900 1800 3600 7200 21600 86400 +Inf ' ] || { echo "bounds: $got"; return 1; }
}
check gap_bounds_exact gap_bounds
long_number() { # a bound or a value with 12 or more digits after the point
    ! grep -E '(le="[0-9]*\.[0-9]{12,}"| [0-9]*\.[0-9]{12,}$|[0-9]e-?[0-9]+")' "$T/metrics"
}
check no_float_noise long_number
check engine_clock_shortest is kintsugi_engine_clock_seconds 1795359601

# ---- a real Prometheus scraping it -------------------------------------------------------
PPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# with the alerting rules of examples/prometheus-rules.yml: each metric they use exists
cp examples/prometheus-rules.yml "$T/rules.yml"
check promtool_rules promtool check rules "$T/rules.yml"
missing=""
for m in $(grep -o 'kintsugi_[a-z_]*' "$T/rules.yml" | sort -u); do
    grep -q "^# TYPE $m " "$T/metrics" || missing="$missing $m"
done
check rules_use_metrics_that_exist [ -z "$missing" ]
cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["$T/rules.yml"]
scrape_configs:
  - job_name: kintsugi
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ["${URL#http://}"]
    authorization:
      type: Bearer
      credentials: "$SCRAPE"
EOF
check promtool_config promtool check config "$T/prometheus.yml"
nice -n 19 prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
    --web.listen-address="127.0.0.1:$PPORT" >"$T/prom.log" 2>&1 &
PPID_=$!
PIDS+=("$PPID_")
query() { # PROMQL: the value of the first result, or nothing
    curl -s --get --data-urlencode "query=$1" "http://127.0.0.1:$PPORT/api/v1/query" |
        jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}
scraped=""
for _ in $(seq 1 60); do # 30 s at most
    scraped=$(query 'kintsugi_events_total{type="sync",outcome="duplicate"}')
    [ -n "$scraped" ] && break
    sleep 0.5
done
check prometheus_scraped_the_counter [ "$scraped" = 1 ]
check prometheus_sum_of_accepted [ "$(query 'sum(kintsugi_events_total{outcome="accepted"})')" = 86 ]  # 84 above, and the two ticks
check prometheus_finds_le_0_1 [ -n "$(query 'kintsugi_http_request_duration_seconds_bucket{route="/v1/events",le="0.1"}')" ]
check prometheus_incidents [ "$(query 'kintsugi_incidents_opened_total{type="data_corruption",severity="P1"}')" = 1 ]
up() { curl -s "http://127.0.0.1:$PPORT/api/v1/targets" | jq -e '.data.activeTargets[0].health == "up"'; }
check target_up_with_the_token up
# the rules evaluate: the corruption incident is an open P1, and nothing else fires
firing=""
for _ in $(seq 1 40); do # 20 s at most
    firing=$(curl -s "http://127.0.0.1:$PPORT/api/v1/alerts" | jq -r '[.data.alerts[] | select(.state == "firing") | .labels.alertname] | sort | join(",")')
    [ -n "$firing" ] && break
    sleep 0.5
done
check rules_p1_alert_fires [ "$firing" = KintsugiP1Open ]
rules=$(curl -s "http://127.0.0.1:$PPORT/api/v1/rules" | jq -r '[.data.groups[].rules[]] | "\(length) \([.[].health] | unique | join(","))"')
check rules_all_healthy [ "$rules" = "6 ok" ]
kill "$PPID_"
wait "$PPID_" 2>/dev/null
kill "$PID"
wait "$PID"
check serve_exits_0 [ $? -eq 0 ]
[ $failed -eq 0 ] || tail -5 "$T/prom.log"

echo "RESULT passed=$passed failed=$failed"
