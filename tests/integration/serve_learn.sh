#!/usr/bin/env bash
# kintsugi serve: post-incident reviews, action items, the recovery report and
# the cost of a mistake over HTTP - byte for byte the documents of the CLI's
# --json (and --markdown) - and the writes (a review saved from Markdown, an
# item closed, a cost part entered) as journaled commands: bad input refused
# with its line and nothing changed, and a kill -9 that neither loses nor
# doubles a row or a timeline entry. Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/serve_lib.bash"
RV=$(dirname "$0")/reviews # bad.md, ok.md

DB=$T/l.db
"$K" token create --name alice --role responder --db "$DB" >"$T/alice.tok" 2>/dev/null
"$K" token create --name vic --role viewer --db "$DB" >"$T/vic.tok" 2>/dev/null
ALICE=$(cat "$T/alice.tok") VIEW=$(cat "$T/vic.tok")
check starts start a "$DB" --clock event

# A WMS outage, handled and resolved through the API.
EVENTS='{"type":"health","ts":"2026-11-22T10:00:00Z","system":"wms","status":"up"}
{"type":"order","ts":"2026-11-22T10:02:00Z","order_id":"o22","channel":"amazon","status":"accepted","customer":"c1","value":100}
{"type":"health","ts":"2026-11-22T10:03:00Z","system":"wms","status":"down"}
{"type":"tick","ts":"2026-11-22T10:10:00Z"}'
status_is 202 POST '/v1/events?end=true' "$ALICE" "$EVENTS" application/x-ndjson
status_is 200 POST /v1/incidents/1/ack "$ALICE" '{}'
status_is 202 POST '/v1/events?end=true' "$ALICE" '{"type":"tick","ts":"2026-11-22T12:05:00Z"}' application/x-ndjson
status_is 200 POST /v1/incidents/1/status "$ALICE" '{"status":"resolved"}'
check incident_resolved [ "$(get /v1/incidents/1 | jq -r .status)" = resolved ]

# ---- reading: the CLI's documents ------------------------------------------------------
check review_draft_same_as_cli same /v1/reviews/1 review show 1 --json
check review_markdown_same_as_cli same '/v1/reviews/1?format=markdown' review show 1 --markdown
check review_now_same_as_cli same '/v1/reviews/1?now=2026-11-25T00:00:00Z' review show 1 --json --now 2026-11-25T00:00:00Z
check review_unknown_404 status_is 404 GET /v1/reviews/9 "$VIEW"
check review_bad_id_400 status_is 400 GET /v1/reviews/x "$VIEW"
check review_bad_format_400 status_is 400 GET '/v1/reviews/1?format=pdf' "$VIEW"
check review_bad_now_400 status_is 400 GET '/v1/reviews/1?now=yesterday' "$VIEW"
check review_bad_now_names_it grep -q 'query \\"now\\"' "$T/body"

# ---- a review saved over HTTP ---------------------------------------------------------------
BEFORE=$(get /v1/reviews/1)
check bad_review_400 status_is 400 POST /v1/reviews/1 "$ALICE" "$(cat "$RV/bad.md")" text/markdown
check bad_review_names_its_line grep -q 'body:8: action_items\[0\].kind: must be immediate, systematic or prevention, got \\"soon\\"' "$T/body"
check bad_review_changes_nothing [ "$(get /v1/reviews/1)" = "$BEFORE" ]
check empty_review_400 status_is 400 POST /v1/reviews/1 "$ALICE" '{}'
check empty_review_says_so grep -q 'the review sets nothing' "$T/body"
check empty_review_changes_nothing [ "$(get /v1/reviews/1)" = "$BEFORE" ]
check review_viewer_403 status_is 403 POST /v1/reviews/1 "$VIEW" "$(cat "$RV/ok.md")" text/markdown
check review_wrong_type_415 status_is 415 POST /v1/reviews/1 "$ALICE" "$(cat "$RV/ok.md")" image/png
check review_unknown_incident_404 status_is 404 POST /v1/reviews/9 "$ALICE" "$(cat "$RV/ok.md")" text/markdown
check review_set status_is 200 POST /v1/reviews/1 "$ALICE" "$(cat "$RV/ok.md")" text/markdown
check review_set_answer [ "$(jq -c '[.op, .incident, .by, .action_items]' <<<"$BODY")" = '["review_set",1,"alice",2]' ]
check review_written [ "$(get /v1/reviews/1 | jq .review.written)" = true ]
check review_same_as_cli same /v1/reviews/1 review show 1 --json
check flags_same_as_cli same /v1/reviews review flags --json
check flags_listed [ "$(get /v1/reviews | jq -c '.[0].flags | map(.flag)')" = '["fewer than three whys","no preventive action item","action item without owner or due date"]' ]
check items_same_as_cli same /v1/review-items review items --json
check items_open_owner_same_as_cli same '/v1/review-items?open=true&owner=bob' review items --open --owner bob --json
check items_overdue_same_as_cli same '/v1/review-items?overdue=1&now=2026-11-30T00:00:00Z' review items --overdue --json --now 2026-11-30T00:00:00Z
check items_bad_flag_400 status_is 400 GET '/v1/review-items?open=maybe' "$VIEW"
# YAML (as application/yaml) is taken too
check review_yaml status_is 200 POST /v1/reviews/1 "$ALICE" "$(sed '1d; /^---$/,$d' "$RV/ok.md")" application/yaml

# ---- action items ------------------------------------------------------------------------------
ITEM=$(get '/v1/review-items?owner=bob' | jq '.[0].id')
check item_done status_is 200 POST "/v1/review-items/$ITEM/done" "$ALICE" '{"note":"alert added"}'
check item_done_answer [ "$(jq -c '[.op, .by, .item, .incident, .status]' <<<"$BODY")" = "[\"review_item\",\"alice\",$ITEM,1,\"done\"]" ]
check item_done_twice_409 status_is 409 POST "/v1/review-items/$ITEM/done" "$ALICE" '{}'
check item_unknown_404 status_is 404 POST /v1/review-items/999/drop "$ALICE" '{}'
check item_bad_verb_404 status_is 404 POST "/v1/review-items/$ITEM/close" "$ALICE" '{}'
check item_bad_note_400 status_is 400 POST "/v1/review-items/$ITEM/drop" "$ALICE" '{"note":5}'
check items_after_same_as_cli same /v1/review-items review items --json
check item_on_timeline [ "$(get /v1/incidents/1 | jq "[.timeline[] | select(.text == \"Action item $ITEM done by alice: alert added\")] | length")" = 1 ]

# ---- costs ------------------------------------------------------------------------------------
check cost_same_as_cli same /v1/incidents/1/cost cost 1 --json
check cost_set status_is 200 POST /v1/incidents/1/cost "$ALICE" '{"part":"brand","amount":10000}'
check cost_set_answer [ "$(jq -c '[.op, .incident, .by, .part, .amount]' <<<"$BODY")" = '["cost_set",1,"alice","brand",10000]' ]
check cost_brand [ "$(get /v1/incidents/1/cost | jq .brand)" = 10000 ]
check cost_after_same_as_cli same /v1/incidents/1/cost cost 1 --json
check cost_bad_part_400 status_is 400 POST /v1/incidents/1/cost "$ALICE" '{"part":"karma","amount":1}'
check cost_bad_part_says_why grep -q "unknown cost part 'karma'" "$T/body"
check cost_negative_400 status_is 400 POST /v1/incidents/1/cost "$ALICE" '{"part":"brand","amount":-1}'
check cost_unknown_incident_404 status_is 404 POST /v1/incidents/9/cost "$ALICE" '{"part":"brand","amount":1}'
check cost_unknown_incident_get_404 status_is 404 GET /v1/incidents/9/cost "$VIEW"

# ---- the report ----------------------------------------------------------------------------------
check report_same_as_cli same /v1/report report --json
check report_by_week_same_as_cli same '/v1/report?by=week' report --by week --json
check report_since_same_as_cli same '/v1/report?since=2026-11-22T00:00:00Z&until=2026-11-23T00:00:00Z&by=type' report --since 2026-11-22T00:00:00Z --until 2026-11-23T00:00:00Z --by type --json
check report_markdown_same_as_cli same '/v1/report?format=markdown' report --markdown
check report_bad_by_400 status_is 400 GET '/v1/report?by=moon' "$VIEW"
check report_bad_since_400 status_is 400 GET '/v1/report?since=soon' "$VIEW"
check report_deterministic [ "$(get /v1/report)" = "$(get /v1/report)" ]

# ---- kill -9: the journal brings the writes back, once --------------------------------------------
REVIEW=$(get /v1/reviews/1) ITEMS=$(get /v1/review-items) COST=$(get /v1/incidents/1/cost)
count_tl() { get /v1/incidents/1 | jq "[.timeline[] | select(.text | startswith(\"$1\"))] | length"; }
SAVED=$(count_tl 'Post-incident review saved by alice') DONE=$(count_tl "Action item $ITEM done") SET=$(count_tl 'Cost part brand set')
kill -9 "$PID"
wait "$PID" 2>/dev/null
check restarts start b "$DB" --clock event
check review_survives_kill [ "$(get /v1/reviews/1)" = "$REVIEW" ]
check items_survive_kill [ "$(get /v1/review-items)" = "$ITEMS" ]
check cost_survives_kill [ "$(get /v1/incidents/1/cost)" = "$COST" ]
check timeline_not_doubled [ "$SAVED $DONE $SET" = "2 1 1" ] 
check timeline_same_after_kill [ "$(count_tl 'Post-incident review saved by alice') $(count_tl "Action item $ITEM done") $(count_tl 'Cost part brand set')" = "2 1 1" ]
check item_still_closed status_is 409 POST "/v1/review-items/$ITEM/done" "$ALICE" '{}'
stop "$PID" TERM

echo "RESULT passed=$passed failed=$failed"
