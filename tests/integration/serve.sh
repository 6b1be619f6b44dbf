#!/usr/bin/env bash
# kintsugi serve through real HTTP (curl) on a free port: health and readiness,
# tokens and roles, POST /v1/events with its exact answer, the same incidents
# as `kintsugi ingest` with --clock event, people's actions with the token's
# name as actor, the CLI's writers refused while the server owns the database,
# SIGTERM saving, kill -9 under load losing no acknowledged event and applying
# none twice, and a channel stalled on the wall clock opening its incident
# within a second of its deadline. Every server is stopped by its PID.
# Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/serve_lib.bash"

DB=$T/live.db
"$K" token create --name alice --role admin --db "$DB" >"$T/admin.tok" 2>/dev/null
"$K" token create --name bob --role responder --db "$DB" >"$T/resp.tok" 2>/dev/null
"$K" token create --name vic --role viewer --db "$DB" >"$T/view.tok" 2>/dev/null
ADMIN=$(cat "$T/admin.tok") RESP=$(cat "$T/resp.tok") VIEW=$(cat "$T/view.tok")
check tokens_created [ ${#ADMIN} -eq 46 -a ${#RESP} -eq 46 -a ${#VIEW} -eq 46 ]

# ---- event time: the same incidents as kintsugi ingest -------------------------
check starts start ev "$DB" --clock event
check healthz_needs_no_token status_is 200 GET /healthz ""
check readyz_needs_no_token status_is 200 GET /readyz ""
check v1_needs_a_token status_is 401 GET /v1/incidents ""
check unknown_token_401 status_is 401 GET /v1/incidents ks_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
check viewer_reads status_is 200 GET /v1/incidents "$VIEW"
check viewer_cannot_post_events status_is 403 POST /v1/events "$VIEW" '{"type":"tick","ts":"2026-11-22T10:00:00Z"}' application/x-ndjson
check events_need_a_known_type status_is 415 POST /v1/events "$RESP" 'x' text/plain
check unknown_path_404 status_is 404 GET /v1/nothing "$VIEW"
# a guard verb that does not exist is no route: 404 whoever asks, however
check guard_bogus_get_404 status_is 404 GET /v1/guard/bogus "$VIEW"
check guard_bogus_viewer_post_404 status_is 404 POST /v1/guard/bogus "$VIEW" '{}'
check guard_bogus_names_the_verbs is 'no such path: /v1/guard/bogus ({verb} is one of pause, release, rollback, accept)' "$(jq -r .error.message <<<"$BODY")"
check guard_pause_get_405 status_is 405 GET /v1/guard/pause "$VIEW"
check guard_pause_viewer_403 status_is 403 POST /v1/guard/pause "$VIEW" '{}'
check guard_pause_403_names_the_route grep -qF 'POST /v1/guard/{verb} needs admin' "$T/body"
# two tokens (or two types) are refused, not read as the first
two_tokens() {
    CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $VIEW" -H "Authorization: Bearer $RESP" "$URL/v1/whoami")
    [ "$CODE" = 400 ] && [ "$(jq -c .error "$T/body")" = '{"code":"invalid","message":"more than one Authorization header: send it once"}' ] || { echo "$CODE $(cat "$T/body")"; return 1; }
}
check two_authorization_headers_400 two_tokens
two_types() {
    CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $RESP" -H 'Content-Type: application/x-ndjson' -H 'Content-Type: application/json' \
        --data-binary '{"type":"tick","ts":"2026-11-22T09:00:00Z"}' "$URL/v1/events")
    [ "$CODE" = 400 ] && grep -q 'more than one Content-Type header' "$T/body" || { echo "$CODE $(cat "$T/body")"; return 1; }
}
check two_content_type_headers_400 two_types

# One accepted, one duplicate of it (same id), one rejected, and a blank line.
BATCH='{"id":"a1","type":"sync","ts":"2026-11-22T10:00:00Z","channel":"amazon","status":"ok"}
{"id":"a1","type":"sync","ts":"2026-11-22T10:00:00Z","channel":"amazon","status":"ok"}

{"type":"sync","ts":"2026-11-22T10:00:01Z","channel":"amazon","status":"fine"}'
check post_answers_202 status_is 202 POST /v1/events "$RESP" "$BATCH" application/x-ndjson
check post_counts [ "$(jq -c '[.accepted, .duplicates, (.rejected | map(.line))]' <<<"$BODY")" = '[1,1,[4]]' ]
check post_names_the_reason grep -q 'must be one of ok, error, got \\"fine\\"' <<<"$BODY"
REQ=$(jq .request <<<"$BODY")
check dead_letter_names_the_request sh -c "'$K' deadletters --db '$DB' --json | grep -q 'http request $REQ (bob)'"
check array_body status_is 202 POST /v1/events "$RESP" '[{"id":"a1","type":"sync","ts":"2026-11-22T10:00:00Z","channel":"amazon","status":"ok"},{"type":"tick","ts":"2026-11-22T10:00:02Z"}]'
check array_counts [ "$(jq -c '[.accepted, .duplicates]' <<<"$BODY")" = '[1,1]' ]
check bad_array_400 status_is 400 POST /v1/events "$RESP" '[{"type":' application/json
# An element that is not a valid event (a duplicate key, a number out of
# range) is rejected and kept like a bad NDJSON line; the others are applied.
check array_bad_element_202 status_is 202 POST /v1/events "$RESP" '[{"type":"tick","ts":"2026-11-22T10:00:02.5Z"},
 {"type":"tick","ts":"2026-11-22T10:00:02.6Z","a":1,"a":2}, {"type":"tick","ts":1e400}]' application/json
check array_bad_element_counts [ "$(jq -c '[.accepted, (.rejected | map(.line))]' <<<"$BODY")" = '[1,[2,3]]' ]
bad_element_reason() { jq -r '.rejected[0].reason' <<<"$BODY" | grep -q 'duplicate object key'; }
check array_bad_element_reason bad_element_reason
bad_element_kept() { curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/deadletters" | grep -q '"a\\":1,\\"a\\":2'; }
check array_bad_element_kept bad_element_kept
check array_missing_element_400 status_is 400 POST /v1/events "$RESP" '[{"type":"tick","ts":"2026-11-22T10:00:02Z"},,{}]' application/json
check array_text_after_400 status_is 400 POST /v1/events "$RESP" '[] x' application/json
check array_not_an_array_400 status_is 400 POST /v1/events "$RESP" '"tick"' application/json
# NDJSON sent as application/json: one object followed by more text is a
# broken body (400, nothing applied), not one dead letter of every line.
ND='{"id":"nd1","type":"tick","ts":"2026-11-22T10:00:02.7Z"}
{"id":"nd2","type":"tick","ts":"2026-11-22T10:00:02.8Z"}'
check ndjson_as_json_400 status_is 400 POST /v1/events "$RESP" "$ND" application/json
check ndjson_as_json_says_so [ "$(jq -r '"\(.error.code) \(.error.message)"' <<<"$BODY")" = 'bad_json body: invalid JSON at byte 58: text after the object (several events are a JSON array of them, or NDJSON sent as application/x-ndjson)' ]
check ndjson_as_json_applied_nothing status_is 202 POST /v1/events "$RESP" "$ND" application/x-ndjson
check ndjson_as_json_no_duplicates [ "$(jq -c '[.accepted, .duplicates, (.rejected | length)]' <<<"$BODY")" = '[2,0,0]' ]
check object_not_closed_400 status_is 400 POST /v1/events "$RESP" '{"type":"tick","ts":"2026-11-22T10:00:02.9Z"' application/json
check object_not_closed_says_so grep -q 'the object is not closed' "$T/body"
check one_object_202 status_is 202 POST /v1/events "$RESP" '  {"type":"tick","ts":"2026-11-22T10:00:02.95Z"}
' application/json
check bom_skipped status_is 202 POST /v1/events "$RESP" "$(printf '\xef\xbb\xbf{"type":"tick","ts":"2026-11-22T10:00:03Z"}')" application/x-ndjson
check bom_line_accepted [ "$(jq -c '[.accepted, (.rejected | length)]' <<<"$BODY")" = '[1,0]' ]
# A small body of many bad lines: every one is kept as a dead letter and
# counted, the answer lists the first 1000 and says it was cut.
before=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $VIEW" "$URL/v1/deadletters?limit=1" | tr -d '\r' | sed -n 's/^x-total-count: //Ip')
check many_rejected_202 status_is 202 POST /v1/events "$RESP" "[$(printf '0,%.0s' $(seq 1 1499))0]" application/json
check many_rejected_listed_1000 [ "$(jq -c '[.accepted, (.rejected | length), .rejected[-1].line, .rejected_count, .rejected_truncated]' <<<"$BODY")" = '[0,1000,1000,1500,true]' ]
after=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $VIEW" "$URL/v1/deadletters?limit=1" | tr -d '\r' | sed -n 's/^x-total-count: //Ip')
check many_rejected_all_kept [ "$((after - before))" = 1500 ]
check few_rejected_not_truncated status_is 202 POST /v1/events "$RESP" '[0]' application/json
check few_rejected_counted [ "$(jq -c '[(.rejected | length), .rejected_count, .rejected_truncated]' <<<"$BODY")" = '[1,1,false]' ]
check cli_writer_refused sh -c "! '$K' guard pause amazon --by x --db '$DB' 2>'$T/refused' && grep -q 'kintsugi serve at $URL' '$T/refused'"
check cli_reader_works "$K" incidents --db "$DB" --json
stop "$PID" TERM
check sigterm_exits_0 [ "$STOP_RC" -eq 0 ]

# Scenarios posted in batches of 7 lines give what ingest gives.
same_as_ingest() { # scenario
    local sc=$SC/$1 db=$T/sc-$1.db ref=$T/ref-$1.db
    "$K" ingest --quiet --db "$ref" "$sc/events.ndjson" >/dev/null 2>&1
    "$K" token create --name feeder --role responder --db "$db" >"$T/feeder.tok" 2>/dev/null
    start "sc-$1" "$db" --clock event || return 1
    split -l 7 "$sc/events.ndjson" "$T/part-$1-"
    local last
    last=$(ls "$T/part-$1-"* | tail -1)
    for f in "$T/part-$1-"*; do
        # the last request ends the input, as the end of the file does
        curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $(cat "$T/feeder.tok")" \
            -H 'Content-Type: application/x-ndjson' --data-binary @"$f" \
            "$URL/v1/events$([ "$f" = "$last" ] && echo '?end=true')"
    done >"$T/codes-$1"
    # the server's deliverer has taken every hook call (an unconfigured one
    # leaves its step to a person, as ingest's delivery does)
    until_ok 10 bash -c "[ \"\$($K hooks --json --db $db | jq '[.[] | select(.status == \"queued\")] | length')\" = 0 ]"
    stop "$PID" TERM
    rm -f "$T/part-$1-"*
    [ "$(sort -u "$T/codes-$1")" = 202 ] || { echo "codes: $(sort -u "$T/codes-$1")"; return 1; }
    # (the input named after its door, hook attempts of ingest left out: same_db)
    same_db "$ref" "$db" "$sc/events.ndjson"
}
for sc in $(ls "$SC"); do
    # a scenario that needs its own configuration is left to the ingest tests
    [ -d "$SC/$sc" ] && [ ! -f "$SC/$sc/kintsugi.yaml" ] || continue
    check "same_as_ingest_$sc" same_as_ingest "$sc"
done

# ---- people's actions over HTTP --------------------------------------------------
check restarts start ev2 "$DB" --clock event
status_is 202 POST /v1/events "$RESP" "$(cat "$SC/ack_meets_sla/events.ndjson")" application/x-ndjson
ID=$(curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/incidents" | jq '.[-1].id')
check ack_by_responder status_is 200 POST "/v1/incidents/$ID/ack" "$RESP" '{}'
check ack_actor_is_token_name sh -c "curl -s -H 'Authorization: Bearer $VIEW' '$URL/v1/incidents/$ID' | jq -e '.timeline | map(select(.actor == \"bob\")) | length == 1' >/dev/null"
check note_needs_text status_is 400 POST "/v1/incidents/$ID/note" "$RESP" '{}'
check note status_is 200 POST "/v1/incidents/$ID/note" "$RESP" '{"text":"looking at the importer"}'
# a note of Unicode spaces only is as blank as one of spaces
check note_unicode_blank_400 status_is 400 POST "/v1/incidents/$ID/note" "$RESP" "$(printf '{"text":"\xc2\xa0\xe2\x80\x83"}')"
check note_unicode_blank_says_so grep -q 'a note needs some text' "$T/body"
# white space around an owner is not part of the name
check assign_trimmed status_is 200 POST "/v1/incidents/$ID/assign" "$RESP" '{"owner":" dave "}'
check assign_trimmed_owner [ "$(curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/incidents/$ID" | jq -r .owner)" = dave ]
check assign_trimmed_same_409 status_is 409 POST "/v1/incidents/$ID/assign" "$RESP" '{"owner":"dave"}'
# an id is written as one: no sign, no leading zero; in range it is an id (of nothing here)
id_refused() {
    status_is 400 POST "/v1/incidents/$1/ack" "$RESP" '{}' || return 1
    is "path: '$1' is not an incident id (a positive integer)" "$(jq -r .error.message <<<"$BODY")"
}
check id_plus_400 id_refused +4
check id_leading_zero_400 id_refused 04
check id_past_int64_400 id_refused 9223372036854775808
check id_int64_max_404 status_is 404 POST /v1/incidents/9223372036854775807/ack "$RESP" '{}'
check id_int64_max_not_found is 'no incident 9223372036854775807' "$(jq -r .error.message <<<"$BODY")"
check id_int64_max_get_404 status_is 404 GET /v1/incidents/9223372036854775807 "$VIEW"
# A body is an object of the route's fields, each of its type: anything else
# is 400 naming what is wrong, and nothing is recorded.
check ack_array_400 status_is 400 POST "/v1/incidents/$ID/ack" "$RESP" '[1,2]'
# a UTF-8 byte order mark before a JSON body is taken off, on every route
check note_bom_200 status_is 200 POST "/v1/incidents/$ID/note" "$RESP" "$(printf '\xef\xbb\xbf{"text":"with a BOM"}')"
# A body is an object of the route's fields, each of its type: anything else
# is 400 naming what is wrong, and nothing is recorded.
check ack_array_400 status_is 400 POST "/v1/incidents/$ID/ack" "$RESP" '[1,2]'
# JSON of another type than an object is the same 400 invalid, whatever it is
body_not_object() { # BODY GOT
    status_is 400 POST "/v1/incidents/$ID/note" "$RESP" "$1" || return 1
    is "invalid body: must be a JSON object, got $2" "$(jq -r '"\(.error.code) \(.error.message)"' <<<"$BODY")"
}
check note_null_400 body_not_object 'null' null
check note_zero_400 body_not_object ' 0 ' 0
check note_true_400 body_not_object 'true' true
check note_string_400 body_not_object '"x"' '"x"'
check note_array_400 body_not_object '["x"]' 'an array'
check ack_array_says_object grep -q 'body: must be a JSON object, got an array' "$T/body"
check ack_unknown_field_400 status_is 400 POST "/v1/incidents/$ID/ack" "$RESP" '{"bogus":1}'
check status_unknown_field_400 status_is 400 POST "/v1/incidents/$ID/status" "$RESP" '{"status":"resolving","bogus":1}'
check status_unknown_field_named grep -q 'field \\"bogus\\" is not known (status)' "$T/body"
check note_unknown_field_400 status_is 400 POST "/v1/incidents/$ID/note" "$RESP" '{"text":"typo","txet":"y"}'
check assign_unknown_field_400 status_is 400 POST "/v1/incidents/$ID/assign" "$RESP" '{"owner":"carol","by":"dave"}'
check step_unknown_field_400 status_is 400 POST "/v1/incidents/$ID/steps/diagnose_system" "$RESP" '{"status":"done","notes":"x"}'
check step_unknown_field_named grep -q 'field \\"notes\\" is not known (status, note)' "$T/body"
check approve_unknown_field_400 status_is 400 POST "/v1/actions/$ID/approve" "$ADMIN" '{"action":"zero_channel","force":true}'
check pause_unknown_field_400 status_is 400 POST /v1/guard/pause "$ADMIN" '{"channels":"amazon"}'
check pause_unknown_field_named grep -q 'field \\"channels\\" is not known (channel)' "$T/body"
check rollback_unknown_field_400 status_is 400 POST /v1/guard/rollback "$ADMIN" "{\"incident\":$ID,\"dryrun\":true}"
check rollback_unknown_field_named grep -q 'field \\"dryrun\\" is not known (incident, dry_run)' "$T/body"
# A key given twice is refused (which one was meant is not known), and a NUL
# in a string is named in plain words.
check note_duplicate_key_400 status_is 400 POST "/v1/incidents/$ID/note" "$RESP" '{"text":"typo","text":"typo"}'
check note_duplicate_key_says_so is '"the body gives a key twice (which one is meant is not known): line 1 column 21: duplicate object key near '"'"'\"text\"'"'"'"' "$(jq .error.message "$T/body")"
check note_nul_400 status_is 400 POST "/v1/incidents/$ID/note" "$RESP" '{"text":"ty\u0000po"}'
check note_nul_says_so is '"the body is not JSON: line 1 column 20: a string holds a NUL character (\\u0000)"' "$(jq .error.message "$T/body")"
check refused_paused_nothing sh -c "curl -s -H 'Authorization: Bearer $VIEW' '$URL/v1/guard' | jq -e '[.channels[] | select(.paused)] | length == 0' >/dev/null"
check refused_recorded_nothing sh -c "curl -s -H 'Authorization: Bearer $VIEW' '$URL/v1/incidents/$ID' | jq -e '[.timeline[] | select(.text == \"typo\" or (.text | startswith(\"Status resolving\")))] | length == 0' >/dev/null"
# A field of the wrong type is named as such, not as missing.
check status_number_400 status_is 400 POST "/v1/incidents/$ID/status" "$RESP" '{"status":5}'
check status_number_says_string grep -q 'field \\"status\\" must be a string, got 5' "$T/body"
check note_array_400 status_is 400 POST "/v1/incidents/$ID/note" "$RESP" '{"text":["a"]}'
check note_array_says_string grep -qF 'field \"text\" must be a string, got an array' "$T/body"
check note_null_400 status_is 400 POST "/v1/incidents/$ID/note" "$RESP" '{"text":null}'
check note_null_says_string grep -qF 'field \"text\" must be a string, got null' "$T/body"
check step_bool_400 status_is 400 POST "/v1/incidents/$ID/steps/diagnose_system" "$RESP" '{"status":true}'
check step_bool_says_string grep -qF 'field \"status\" must be a string (done or skip), got true' "$T/body"
check rollback_string_id_400 status_is 400 POST /v1/guard/rollback "$ADMIN" '{"incident":"3"}'
check rollback_string_id_says_type grep -qF 'field \"incident\" must be an incident id (a positive integer), got \"3\"' "$T/body"
# An owner: no control character, C1 (U+0080-U+009F) included; the same
# owner again records nothing and says so (409), as the same status does.
check assign_c1_400 status_is 400 POST "/v1/incidents/$ID/assign" "$RESP" '{"owner":"x\u0085y"}'
check assign_c1_says_why grep -q 'control character (byte 2)' "$T/body"
check assign_del_400 status_is 400 POST "/v1/incidents/$ID/assign" "$RESP" '{"owner":"x\u007fy"}'
check assign status_is 200 POST "/v1/incidents/$ID/assign" "$RESP" '{"owner":"carol"}'
check assign_same_409 status_is 409 POST "/v1/incidents/$ID/assign" "$RESP" '{"owner":"carol"}'
check assign_same_says_so grep -q 'is already assigned to carol; nothing recorded' "$T/body"
check assign_recorded_once sh -c "curl -s -H 'Authorization: Bearer $VIEW' '$URL/v1/incidents/$ID' | jq -e '[.timeline[] | select(.text == \"Assigned to carol by bob\")] | length == 1' >/dev/null"
check assign_another status_is 200 POST "/v1/incidents/$ID/assign" "$RESP" '{"owner":"dave"}'
# stop_order_import has no hook: once the server's deliverer found that, the
# step of the OMS outage waits for a person, who ticks it through the API
OID=$(curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/incidents" | jq '[.[] | select(.type == "system_outage")] | max_by(.id) | .id')
step_of() { curl -s -H "Authorization: Bearer $VIEW" "$URL/v1/incidents/$OID" | jq -c '.checklist[] | select(.step == "stop_order_import") | [.status, .by]'; }
step_left() { [ "$(step_of)" = '["left_to_person",null]' ]; }
check step_left_to_person_over_http until_ok 10 step_left
check step_left_ticked_over_http status_is 200 POST "/v1/incidents/$OID/steps/stop_order_import" "$RESP" '{"status":"done","note":"stopped in the OMS by hand"}'
check step_tick_by_token_name test "$(step_of)" = '["done","bob"]'
check step_tick_on_the_timeline sh -c "curl -s -H 'Authorization: Bearer $VIEW' '$URL/v1/incidents/$OID' | jq -e '[.timeline[] | select(.actor == \"bob\" and .text == \"Step stop_order_import done by bob: stopped in the OMS by hand\")] | length == 1' >/dev/null"
check status_backwards_409 status_is 409 POST "/v1/incidents/$ID/status" "$RESP" '{"status":"investigating"}'
check unknown_incident_404 status_is 404 POST /v1/incidents/9999/ack "$RESP" '{}'
check bad_incident_id_400 status_is 400 GET /v1/incidents/abc "$VIEW"
check pause_needs_admin status_is 403 POST /v1/guard/pause "$RESP" '{}'
check pause_by_admin status_is 200 POST /v1/guard/pause "$ADMIN" '{"channel":"amazon"}'
check guard_shows_pause sh -c "curl -s -H 'Authorization: Bearer $VIEW' '$URL/v1/guard' | jq -e '.channels[] | select(.channel == \"amazon\") | .paused' >/dev/null"
check list_filters status_is 400 GET "/v1/incidents?severity=P9" "$VIEW"
# A query parameter the route does not know is refused (it was ignored: a
# misspelt filter gave every incident), naming those it knows.
check list_unknown_query_400 status_is 400 GET "/v1/incidents?staus=open" "$VIEW"
check list_unknown_query_named grep -q 'query \\"staus\\" is not known (status, severity, type, channel, view)' "$T/body"
check list_limit_400 status_is 400 GET "/v1/incidents?limit=1" "$VIEW"
check unknown_query_after_the_token status_is 401 GET "/v1/incidents?staus=open" ""
check incident_query_400 status_is 400 GET "/v1/incidents/$ID?format=markdown" "$VIEW"
check incident_query_says_none grep -q 'query \\"format\\" is not known (none)' "$T/body"
check guard_query_400 status_is 400 GET "/v1/guard?channel=amazon" "$VIEW"
check events_unknown_query_400 status_is 400 POST "/v1/events?ned=true" "$RESP" '{"type":"tick","ts":"2026-11-22T10:00:00Z"}' application/x-ndjson
check events_unknown_query_named grep -q 'query \\"ned\\" is not known (end)' "$T/body"
check action_query_400 status_is 400 POST "/v1/incidents/$ID/note?text=x" "$RESP" '{"text":"x"}'
check healthz_takes_any_query status_is 200 GET "/healthz?probe=1" ""
# The filters are the store's columns: each one's answer is the full list filtered by jq.
check list_filters_by_columns sh -c "all=\$(curl -s -H 'Authorization: Bearer $VIEW' '$URL/v1/incidents'); for q in 'severity=P1:.severity == \"P1\"' 'severity=P3:.severity == \"P3\"' 'type=data_corruption:.type == \"data_corruption\"' 'channel=amazon:(.scope.channels | index(\"amazon\")) != null' 'status=open&channel=ebay:.status != \"resolved\" and ((.scope.channels | index(\"ebay\")) != null)'; do got=\$(curl -s -H 'Authorization: Bearer $VIEW' \"$URL/v1/incidents?\${q%%:*}\" | jq -c 'map(.id)'); want=\$(echo \"\$all\" | jq -c \"map(select(\${q#*:})) | map(.id)\"); [ \"\$got\" = \"\$want\" ] || { echo \"\$q: \$got != \$want\"; exit 1; }; done; [ \$(echo \"\$all\" | jq length) -ge 2 ]"
kill -9 "$PID"
wait "$PID" 2>/dev/null
# Everything acknowledged before the kill is there after the restart.
check restart_after_kill start ev3 "$DB" --clock event
check ack_survived_kill sh -c "curl -s -H 'Authorization: Bearer $VIEW' '$URL/v1/incidents/$ID' | grep -q 'looking at the importer'"
check pause_survived_kill sh -c "curl -s -H 'Authorization: Bearer $VIEW' '$URL/v1/guard' | jq -e '.channels[] | select(.channel == \"amazon\") | .paused' >/dev/null"
stop "$PID" TERM

# ---- kill -9 under load ---------------------------------------------------------------
# A client posts batches of 200 events with ids; the server is killed at a
# random moment and restarted; every batch is then posted again: each event
# that got a 202 must come back as a duplicate, and the database must end as
# an ingest of every event once.
"$K" simulate --seed 11 --duration 20h --skus 200 --fault all --out "$T/load.ndjson" 2>/dev/null
awk '{ sub(/^\{/, "{\"id\":\"L" NR "\","); print }' "$T/load.ndjson" >"$T/load-ids.ndjson"
split -l 200 -d -a 4 "$T/load-ids.ndjson" "$T/batch-"
KDB=$T/kill.db
"$K" token create --name loader --role responder --db "$KDB" >"$T/loader.tok" 2>/dev/null
LT=$(cat "$T/loader.tok")
post_all() { # out: one line per batch "FILE CODE ACCEPTED DUPLICATES"
    for f in "$T"/batch-*; do
        c=$(curl -s -o "$T/pb" -w '%{http_code}' -H "Authorization: Bearer $LT" \
            -H 'Content-Type: application/x-ndjson' --data-binary @"$f" "$URL/v1/events")
        echo "$f $c $(jq -r '"\(.accepted) \(.duplicates)"' "$T/pb" 2>/dev/null)"
    done
}
kill_under_load() {
    local round=$1
    start "k$round" "$KDB" --clock event || return 1
    post_all >"$T/acks-$round" 2>/dev/null &
    local client=$!
    sleep "0.$((RANDOM % 9 + 1))"
    kill -9 "$PID"
    wait "$PID" 2>/dev/null
    wait "$client" 2>/dev/null
    grep -c ' 202 ' "$T/acks-$round" >/dev/null || true
}
check kill_round_1 kill_under_load 1
check kill_round_2 kill_under_load 2
check restarts_after_kills start k3 "$KDB" --clock event
post_all >"$T/again"
stop "$PID" TERM
# Every batch acknowledged before a kill is now all duplicates.
acked_are_duplicates() {
    local f bad=0
    while read -r f code acc dup; do
        [ "$code" = 202 ] || continue
        n=$(grep -c . "$f")
        line=$(grep "^$f " "$T/again")
        [ "$line" = "$f 202 0 $n" ] || { echo "acked before the kill, now: $line (want 0 $n)"; bad=1; }
    done < <(cat "$T/acks-1" "$T/acks-2")
    [ $bad -eq 0 ]
}
check acked_events_are_duplicates acked_are_duplicates
check some_were_acked_before_a_kill grep -q ' 202 ' "$T/acks-1" "$T/acks-2"
"$K" ingest --quiet --db "$T/kill-ref.db" "$T/load-ids.ndjson" >/dev/null 2>&1
none_twice() {
    "$K" incidents --db "$T/kill-ref.db" --json >"$T/ka"
    "$K" incidents --db "$KDB" --json >"$T/kb"
    "$K" guard status --db "$T/kill-ref.db" --json >>"$T/ka"
    "$K" guard status --db "$KDB" --json >>"$T/kb"
    diff "$T/ka" "$T/kb" >/dev/null || { diff "$T/ka" "$T/kb" | head -5; return 1; }
}
check none_applied_twice none_twice

# ---- the wall clock ---------------------------------------------------------------------
# A channel whose last ok sync was 30 min minus 3 s ago (stale after 2 x 15 min):
# its incident opens at the deadline, within a second of it on the wall clock.
WDB=$T/wall.db
"$K" token create --name w --role responder --db "$WDB" >"$T/w.tok" 2>/dev/null
WT=$(cat "$T/w.tok")
check wall_starts start wall "$WDB"
now_ms=$(date +%s%3N)
last=$((now_ms - 30 * 60 * 1000 + 3000))
deadline=$((last + 30 * 60 * 1000))
# Milliseconds as three digits: "@S.5" would be half a second, not 5 ms.
iso_ms() { date -u -d "@$(($1 / 1000)).$(printf %03d $(($1 % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ; }
ts=$(iso_ms "$last")
check skew_rejected sh -c "curl -s -H 'Authorization: Bearer $WT' -H 'Content-Type: application/x-ndjson' \
  --data-binary '{\"type\":\"tick\",\"ts\":\"2099-01-01T00:00:00Z\"}' '$URL/v1/events' | jq -e '.rejected[0].line == 1' >/dev/null"
check sync_posted status_is 202 POST /v1/events "$WT" "{\"type\":\"sync\",\"ts\":\"$ts\",\"channel\":\"amazon\",\"status\":\"ok\"}" application/x-ndjson
first_seen() { # TOKEN TRIES: polls $URL every 50 ms; seen = the wall ms of the first incident
    seen=""
    for _ in $(seq 1 "$2"); do
        n=$(curl -s -H "Authorization: Bearer $1" "$URL/v1/incidents" | jq length)
        if [ "$n" -ge 1 ]; then seen=$(date +%s%3N); break; fi
        sleep 0.05
    done
}
first_seen "$WT" 100
check stale_incident_opened [ -n "$seen" ]
late() { [ -n "$seen" ] && [ $((seen - $1)) -le 1000 ] && [ $((seen - $1)) -ge 0 ] || { echo "seen $((seen - $1)) ms after the deadline"; return 1; }; }
check opened_within_1s_of_deadline late "$deadline"
want=$(iso_ms "$deadline")
check recorded_at_the_deadline sh -c "curl -s -H 'Authorization: Bearer $WT' '$URL/v1/incidents' | jq -r '.[0].detected_at' | grep -qx '$want'"
# The writer wakes at the next timer's deadline, not only at its idle pass:
# with a 30 s pass the incident still opens within a second of its deadline.
WDB2=$T/wall2.db
"$K" token create --name w --role responder --db "$WDB2" >"$T/w2.tok" 2>/dev/null
WT2=$(cat "$T/w2.tok")
WURL=$URL WPID=$PID
KINTSUGI_TICK=30 check wall_slow_pass_starts start wall2 "$WDB2"
last=$(($(date +%s%3N) - 30 * 60 * 1000 + 3000))
deadline2=$((last + 30 * 60 * 1000))
check slow_pass_sync_posted status_is 202 POST /v1/events "$WT2" "{\"type\":\"sync\",\"ts\":\"$(iso_ms "$last")\",\"channel\":\"ebay\",\"status\":\"ok\"}" application/x-ndjson
first_seen "$WT2" 200
check slow_pass_opened_within_1s_of_deadline late "$deadline2"
stop "$PID" TERM
URL=$WURL PID=$WPID
# A quiet server writes nothing: on the wall clock with nothing due, a tick
# moves the engine clock in memory only (it was a transaction each, and every
# 30 s one carried the whole state). What comes due is still written at once:
# here the order-delay notice of an outage, a message trigger 3 s after the
# outage began (messages.delay), not a timer of the engine. (The events are
# posted with ?end=true: no update is left open for --update-idle to close.)
QDB=$T/quiet.db
mkdir -p "$T/qbox"
printf 'systems: {wms: {down_after: 1s}}\nreceivers: {box: {dir: %s}}\nnotify: {customer: [box]}\nmessages: {delay: 3s}\n' "$T/qbox" >"$T/quiet.yaml"
"$K" token create --name q --role responder --db "$QDB" >"$T/q.tok" 2>/dev/null
QT=$(cat "$T/q.tok")
WURL=$URL WPID=$PID
KINTSUGI_CONFIG=$T/quiet.yaml check quiet_starts start quiet "$QDB"
now=$(date +%s%3N)
check quiet_outage_posted status_is 202 POST "/v1/events?end=true" "$QT" "{\"type\":\"health\",\"ts\":\"$(iso_ms $((now - 2000)))\",\"system\":\"wms\",\"location\":\"wh1\",\"status\":\"up\"}
{\"type\":\"health\",\"ts\":\"$(iso_ms $((now - 1500)))\",\"system\":\"wms\",\"location\":\"wh1\",\"status\":\"down\"}
{\"type\":\"order\",\"ts\":\"$(iso_ms $((now - 1000)))\",\"order_id\":\"q1\",\"channel\":\"amazon\",\"location\":\"wh1\",\"status\":\"accepted\",\"customer\":\"c1\",\"value\":10,\"email\":\"c1@shop.example\"}" application/x-ndjson
notice=""
for _ in $(seq 1 200); do
    if [ "$(curl -s -H "Authorization: Bearer $QT" "$URL/v1/messages?receiver=box" | jq '[.[] | select(.kind == "order_delay")] | length')" = 1 ]; then
        notice=$(date +%s%3N)
        break
    fi
    sleep 0.05
done
began=$(date -u -d "$(curl -s -H "Authorization: Bearer $QT" "$URL/v1/incidents/1" | jq -r .started_at)" +%s%3N)
check quiet_notice_written [ -n "$notice" ]
# (a trigger is looked at by the 250 ms pass, not woken for like a timer:
# 2 s leaves room for a loaded machine)
check quiet_notice_within_2s_of_due bash -c "d=\$(($notice - $began - 3000)); [ \$d -ge 0 ] && [ \$d -le 2000 ] || { echo \"\$d ms after due\"; exit 1; }"
# its state saved after a quiet second: the journal it accounts for is gone
check quiet_state_saved until_ok 10 bash -c "[ \"\$(sqlite3 '$QDB' 'select count(*) from journal')\" = 0 ]"
counters() { curl -s -H "Authorization: Bearer $QT" "$URL/metrics" | awk '$1 == "kintsugi_commits_total" || $1 == "kintsugi_engine_clock_seconds" { printf "%s ", $2 }'; }
read -r c1 k1 <<<"$(counters)"
sleep 3
read -r c2 k2 <<<"$(counters)"
check quiet_no_commit is "$c1" "$c2"
check quiet_clock_moves awk -v a="$k1" -v b="$k2" 'BEGIN { exit !(b - a >= 2.5) }'
check quiet_journal_empty is 0 "$(sqlite3 "$QDB" 'select count(*) from journal')"
stop "$PID" TERM
URL=$WURL PID=$WPID
# With no save on a quiet spell (KINTSUGI_CHECKPOINT_IDLE=0), a change is
# still saved by the periodic save (here every 2 s) while nothing more comes.
PDB=$T/periodic.db
"$K" token create --name p --role responder --db "$PDB" >"$T/p.tok" 2>/dev/null
WURL=$URL WPID=$PID
KINTSUGI_CHECKPOINT_IDLE=0 KINTSUGI_CHECKPOINT_EVERY=2 check periodic_starts start periodic "$PDB" --clock event
check periodic_change_posted status_is 202 POST /v1/events "$(cat "$T/p.tok")" '{"type":"health","ts":"2026-11-22T10:00:00Z","system":"wms","status":"down"}' application/x-ndjson
check periodic_save_while_quiet until_ok 10 bash -c "[ \"\$(sqlite3 '$PDB' 'select count(*) from journal')\" = 0 ]"
stop "$PID" TERM
URL=$WURL PID=$WPID
# --max-skew is measured from the wall clock of the request: ticks 4 min apart cannot
# walk the clock ahead step by step (only the first, 4 min ahead, is taken).
ticks=""
for k in 1 2 3 4; do
    at=$(( $(date +%s) + k * 240 ))
    ticks="$ticks{\"type\":\"tick\",\"ts\":\"$(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ)\"}
"
done
check ticks_posted status_is 202 POST /v1/events "$WT" "$ticks" application/x-ndjson
check skew_from_the_wall_clock [ "$(jq -c '[.accepted, (.rejected | map(.line))]' <<<"$BODY")" = '[1,[2,3,4]]' ]
stop "$PID" TERM

# ---- starting: a lone server that has not loaded its state yet -----------------------
# It listens at once; until the state is loaded (here: held back by an
# ingest that owns the database until its input ends) every other request
# is 503 "starting" with Retry-After, not "standby": there is no standby.
SDB=$T/starting.db
"$K" token create --name s --role responder --db "$SDB" >"$T/s.tok" 2>/dev/null
mkfifo "$T/ingest.in"
exec 3<>"$T/ingest.in"
"$K" ingest --db "$SDB" - <"$T/ingest.in" >/dev/null 2>"$T/ingest.err" 3>&- &
IPID=$!
PIDS+=("$IPID")
check starting_ingest_holds_the_lock until_ok 10 bash -c "! flock -n '$SDB' true"
SPORT=$(free_port)
"$K" serve --listen "127.0.0.1:$SPORT" --db "$SDB" --clock event 2>"$T/starting.err" 3>&- &
PID=$!
PIDS+=("$PID")
URL=http://127.0.0.1:$SPORT
check starting_healthz until_ok 10 bash -c "[ \"\$(curl -s '$URL/healthz')\" = '{\"status\":\"starting\"}' ]"
check starting_readyz_503 status_is 503 GET /readyz ""
check starting_readyz_says_so [ "$(jq -r .error.message <<<"$BODY")" = 'starting: loading the state' ]
starting_503() {
    curl -s -D "$T/starting.h" -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $(cat "$T/s.tok")" \
        -H 'Content-Type: application/x-ndjson' --data-binary '{"type":"tick","ts":"2026-11-22T10:00:00Z"}' "$URL/v1/events" >"$T/code"
    [ "$(cat "$T/code")" = 503 ] || { echo "code $(cat "$T/code")"; return 1; }
    [ "$(jq -c .error "$T/body")" = '{"code":"starting","message":"starting: loading the state; retry"}' ] || { cat "$T/body"; return 1; }
    grep -qi '^retry-after: 1' "$T/starting.h"
}
check starting_write_503_starting starting_503
exec 3>&- # the ingest's input ends: it lets the database go, the server loads
check starting_then_serves until_ok 30 grep -q '^listening on' "$T/starting.err"
check starting_then_202 status_is 202 POST /v1/events "$(cat "$T/s.tok")" '{"type":"tick","ts":"2026-11-22T10:00:00Z"}' application/x-ndjson
stop "$PID" TERM

# ---- a lone server waiting for a command that writes stops on SIGTERM -------------------
# Its signals are taken with sigwait (blocked): it waits for them between
# tries of the lock, so that a stop is not held up until the command ends.
mkfifo "$T/ingest2.in"
exec 3<>"$T/ingest2.in"
"$K" ingest --db "$SDB" - <"$T/ingest2.in" >/dev/null 2>"$T/ingest2.err" 3>&- &
IPID=$!
PIDS+=("$IPID")
check waiting_ingest_holds_the_lock until_ok 10 bash -c "! flock -n '$SDB' true"
"$K" serve --listen "127.0.0.1:$(free_port)" --db "$SDB" --clock event 2>"$T/waiting.err" 3>&- &
PID=$!
check waiting_server_says_so until_ok 10 grep -q 'is being written by .*kintsugi ingest' "$T/waiting.err"
kill -TERM "$PID"
check waiting_server_stops_on_sigterm until_ok 5 bash -c "! kill -0 $PID 2>/dev/null"
check waiting_server_says_it_stopped grep -qx 'kintsugi: stopped while waiting for the writer lock' "$T/waiting.err"
kill -9 "$PID" 2>/dev/null # (in case it did not stop: the check above failed)
wait "$PID" 2>/dev/null
WRC=$?
check waiting_server_exit_0 [ "$WRC" -eq 0 ]
exec 3>&-
wait "$IPID"

echo "RESULT passed=$passed failed=$failed"
