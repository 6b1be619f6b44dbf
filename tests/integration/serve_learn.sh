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
# Reviews, the report and costs are judged at the saved state's clock (docs/API.md):
# the server saves a second after the last change, and the documents below are
# compared once it has (before, "now" is that of the state saved at start).
saved_clock() { [ "$(get /v1/report | jq -r .now)" = 2026-11-22T12:05:00.000Z ]; }
check state_saved_after_a_quiet_second until_ok 10 saved_clock

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
# a field the route does not know is refused, naming it, and the item stays open
OTHER=$(get '/v1/review-items?owner=dave' | jq '.[0].id')
check item_unknown_field_400 status_is 400 POST "/v1/review-items/$OTHER/drop" "$ALICE" '{"bogus":5}'
check item_unknown_field_named grep -q 'field \\"bogus\\" is not known (note)' "$T/body"
check item_unknown_field_not_dropped [ "$(get /v1/review-items | jq -r ".[] | select(.id == $OTHER) | .status")" = open ]
check items_after_same_as_cli same /v1/review-items review items --json
check item_on_timeline [ "$(get /v1/incidents/1 | jq "[.timeline[] | select(.text == \"Action item $ITEM done by alice: alert added\")] | length")" = 1 ]

# ---- costs ------------------------------------------------------------------------------------
check cost_same_as_cli same /v1/incidents/1/cost cost 1 --json
check cost_set status_is 200 POST /v1/incidents/1/cost "$ALICE" '{"part":"brand","amount":10000}'
check cost_set_answer [ "$(jq -c '[.op, .incident, .by, .part, .amount]' <<<"$BODY")" = '["cost_set",1,"alice","brand",10000]' ]
check cost_brand [ "$(get /v1/incidents/1/cost | jq .brand)" = 10000 ]
check cost_after_same_as_cli same /v1/incidents/1/cost cost 1 --json
check cost_bad_part_400 status_is 400 POST /v1/incidents/1/cost "$ALICE" '{"part":"karma","amount":1}'
check cost_bad_part_says_why grep -q "field \\\\\"part\\\\\": unknown cost part 'karma'" "$T/body"
check cost_negative_400 status_is 400 POST /v1/incidents/1/cost "$ALICE" '{"part":"brand","amount":-1}'
check cost_too_large_400 status_is 400 POST /v1/incidents/1/cost "$ALICE" '{"part":"brand","amount":1e308}'
check cost_too_large_says_why grep -q 'field \\"amount\\": an amount is at most 1000000000000000 (10^15)' "$T/body"
check cost_three_decimals_400 status_is 400 POST /v1/incidents/1/cost "$ALICE" '{"part":"brand","amount":5.001}'
check cost_three_decimals_says_why grep -q 'field \\"amount\\": an amount has at most two decimals (a whole number of cents)' "$T/body"
check cost_unknown_field_400 status_is 400 POST /v1/incidents/1/cost "$ALICE" '{"part":"brand","amount":1,"currency":"EUR"}'
check cost_unknown_field_named grep -q 'field \\"currency\\" is not known (part, amount)' "$T/body"
check cost_refused_changes_nothing [ "$(get /v1/incidents/1/cost | jq .brand)" = 10000 ]
check cost_unknown_incident_404 status_is 404 POST /v1/incidents/9/cost "$ALICE" '{"part":"brand","amount":1}'
check cost_unknown_incident_get_404 status_is 404 GET /v1/incidents/9/cost "$VIEW"

# ---- the report ----------------------------------------------------------------------------------
check report_same_as_cli same /v1/report report --json
check report_by_week_same_as_cli same '/v1/report?by=week' report --by week --json
# A query parameter the route does not know is refused, naming those it knows.
check report_unknown_query_400 status_is 400 GET '/v1/report?sinse=2026-11-22T00:00:00Z' "$VIEW"
check report_unknown_query_named grep -q 'query \\"sinse\\" is not known (since, until, by, format, now)' "$T/body"
check report_empty_window_400 status_is 400 GET '/v1/report?since=2026-12-01T00:00:00Z&until=2026-11-01T00:00:00Z' "$VIEW"
check review_unknown_query_400 status_is 400 GET '/v1/reviews/1?fromat=markdown' "$VIEW"
check items_unknown_query_400 status_is 400 GET '/v1/review-items?owner=bob&opne=true' "$VIEW"
check cost_unknown_query_400 status_is 400 GET '/v1/incidents/1/cost?part=brand' "$VIEW"
check reviews_now_query_200 status_is 200 GET '/v1/reviews?now=2026-11-22T00:00:00Z' "$VIEW"
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

# ---- a review's document: GET sets again, bad text refused -------------------------------------
# The review (items open and done, notes, known_risk) as GET /v1/reviews/1
# writes it, posted back: nothing changes but who saved it last and the
# timeline's note; nothing is cleared.
editable() { jq -S 'del(.review.by, .review.updated_at, .timeline.entries, .people)'; }
SHOWN=$(get /v1/reviews/1)
check show_json_posted_again status_is 200 POST /v1/reviews/1 "$ALICE" "$SHOWN" application/json
check show_json_nothing_cleared [ "$(jq -c '[.action_items, .cleared, .deleted_items]' <<<"$BODY")" = '[2,[],[]]' ]
check show_json_round_trip_changes_nothing [ "$(get /v1/reviews/1 | editable)" = "$(editable <<<"$SHOWN")" ]
check show_json_keeps_closure [ "$(get /v1/reviews/1 | jq -c "[.action_items[] | select(.id == $ITEM) | .status, .closed_by, .note]")" = '["done","alice","alert added"]' ]
SHOWN=$(get /v1/reviews/1)
check null_whys_400 status_is 400 POST /v1/reviews/1 "$ALICE" '{"whys": [null, null, null]}'
check null_whys_names_line grep -q 'body:1: whys\[0\]: must be text, got null' "$T/body"
check nul_400 status_is 400 POST /v1/reviews/1 "$ALICE" '{"whys": ["a", "b", "c\u0000d"]}'
check known_risk_string_400 status_is 400 POST /v1/reviews/1 "$ALICE" '{"root_cause": {"known_risk": "false"}}'
check json_syntax_400 status_is 400 POST /v1/reviews/1 "$ALICE" '{"whys": ["a", "b" "c"]}'
check json_syntax_says_json grep -q 'body:1: not valid JSON' "$T/body"
check too_many_whys_400 status_is 400 POST /v1/reviews/1 "$ALICE" "$(python3 -c 'import json; print(json.dumps({"whys": ["w%d" % i for i in range(101)]}))')"
check too_many_whys_says_so grep -q 'whys: at most 100 entries' "$T/body"
python3 -c "print('whys: [a]'); print('#' + 'x' * (1 << 20))" >"$T/huge.yaml"
check review_too_large_413 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $ALICE' -H 'Content-Type: application/yaml' --data-binary @$T/huge.yaml $URL/v1/reviews/1)\" = 413 ]"
check refused_reviews_change_nothing [ "$(get /v1/reviews/1)" = "$SHOWN" ]
# set whole: a document with one key empties the others, and the answer says what
check partial_review status_is 200 POST /v1/reviews/1 "$ALICE" '{"went_well": ["fast detection"]}'
check partial_review_says_cleared is '[0,["root_cause","whys","action_items"],2]' "$(jq -c '[.action_items, .cleared, (.deleted_items | length)]' <<<"$BODY")"
stop "$PID" TERM

echo "RESULT passed=$passed failed=$failed"
