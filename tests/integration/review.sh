#!/usr/bin/env bash
# Post-incident reviews through the CLI: the draft's timeline figures, a review
# set from Markdown and edited in $EDITOR, a bad one refused with its line and
# nothing changed, action items chased, a repeat after closed items flagged
# "correction did not persist" (one after open items not), the report the same
# bytes twice, and costs entered by a person. Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"
RV=$(dirname "$0")/reviews # bad.md, ok.md

outage() { # day: a wms outage (up, down checks, 10 min later)
    cat <<EOF2
{"type":"health","ts":"2026-11-$1T10:00:00Z","system":"wms","status":"up"}
{"type":"order","ts":"2026-11-$1T10:02:00Z","order_id":"o$1","channel":"amazon","status":"accepted","customer":"c1","value":100}
{"type":"health","ts":"2026-11-$1T10:03:00Z","system":"wms","status":"down"}
{"type":"tick","ts":"2026-11-$1T10:10:00Z"}
EOF2
}
outage 22 >"$T/a.ndjson"
outage 23 >"$T/b.ndjson"
db=$T/r.db
for d in "$db" "$T/o.db"; do
    "$K" ingest --quiet --db "$d" "$T/a.ndjson" >/dev/null 2>&1
    "$K" incident ack 1 --by alice --at 2026-11-22T10:20:00Z --db "$d" >/dev/null
    "$K" incident status 1 contained --by alice --at 2026-11-22T10:40:00Z --db "$d" >/dev/null
    "$K" incident status 1 resolved --by bob --at 2026-11-22T12:05:00Z --db "$d" >/dev/null
done

check draft_timeline_figures bash -c "$K review show 1 --json --db $db | grep -q '\"detection_gap\":300,\"time_to_acknowledge\":900,\"time_to_contain\":2100,\"time_to_resolve\":7200,'"
check draft_review_due bash -c "$K review show 1 --json --db $db | grep -q '\"due\":\"2026-11-24T12:05:00.000Z\",\"overdue\":false'"
check draft_markdown bash -c "$K review show 1 --markdown --db $db | grep -q '^| detection gap | 5m 0s |$'"
check due_in_timeline bash -c "$K incident show 1 --db $db | grep -q 'Post-incident review due by 2026-11-24T12:05:00.000Z'"

check bad_review_refused_with_line bash -c "! $K review set 1 --file $RV/bad.md --by alice --db $db 2>$T/e; grep -q \"bad.md:8: action_items\\[0\\].kind: must be immediate, systematic or prevention, got \\\"soon\\\"\" $T/e"
check bad_review_changes_nothing bash -c "$K review show 1 --json --db $db | grep -q '\"written\":false'"

check review_set "$K" review set 1 --file "$RV/ok.md" --by alice --db "$db"
check shallow_flags bash -c "[ \"\$($K review flags --json --db $db | grep -o '\"flag\":\"[a-z ]*\"' | tr '\n' ' ')\" = '\"flag\":\"fewer than three whys\" \"flag\":\"no preventive action item\" \"flag\":\"action item without owner or due date\" ' ]"
check notes_kept bash -c "$K review show 1 --json --db $db | grep -q '\"notes\":\"The disk filled with logs.\"'"
check items_open bash -c "[ \$($K review items --open --json --db $db | grep -o '\"id\":' | wc -l) -eq 2 ]"
check items_owner bash -c "$K review items --owner dave --db $db | grep -q 'add a second node'"
check item_done "$K" review item 1 done --by bob --note 'alert added' --db "$db"
check item_done_twice_refused exit_is 1 "$K" review item 1 done --by bob --db "$db"
check item_needs_by exit_is 2 "$K" review item 2 done --db "$db"
# Not found is said as `incident show` says it, without the database's name.
check set_unknown_incident bash -c "$K review set 999 --file $RV/ok.md --by alice --db $db 2>$T/e; [ \$? = 1 ] && [ \"\$(cat $T/e)\" = 'kintsugi: no incident 999' ]"
check item_unknown bash -c "$K review item 999 done --by bob --db $db 2>$T/e; [ \$? = 1 ] && [ \"\$(cat $T/e)\" = 'kintsugi: no action item 999' ]"
check show_unknown_incident bash -c "$K review show 999 --db $db 2>$T/e; [ \$? = 1 ] && [ \"\$(cat $T/e)\" = 'kintsugi: no incident 999' ]"
check item_in_timeline bash -c "$K incident show 1 --db $db | grep -q 'Action item 1 done by bob: alert added'"

# $EDITOR: a script that appends the three missing whys and a prevention item.
cat >"$T/ed.sh" <<'EOF2'
#!/bin/sh
sed -i 's/^whys:$/whys:\n  - "no alert on disk use"\n  - "logs were never rotated"\n  - "rotation was not in the host template"/; s/^action_items:$/action_items:\n  - text: "rotate logs in the host template"\n    owner: carol\n    due: 2026-12-15\n    kind: prevention/' "$1"
EOF2
chmod +x "$T/ed.sh"
check review_edit env EDITOR="$T/ed.sh" "$K" review edit 1 --by alice --db "$db"
check edit_kept_closed_item bash -c "$K review items --json --db $db | grep -q '\"text\":\"alert on disk above 80 %\",\"owner\":\"bob\",\"due\":\"2026-11-24T23:59:59.999Z\",\"kind\":\"immediate\",\"status\":\"done\"'"
check edit_flags_left bash -c "[ \"\$($K review flags --json --db $db | grep -o '\"flag\":\"[a-z ]*\"' | tr '\n' ' ')\" = '\"flag\":\"action item without owner or due date\" ' ]"

# A repeat while items are open: linked, not flagged.
cp "$db" "$T/open.db"
"$K" ingest --quiet --db "$T/open.db" "$T/b.ndjson" >/dev/null 2>&1
check repeat_after_open_items_linked bash -c "$K review show 2 --json --db $T/open.db | grep -q '\"repeat_of\":1,\"repeats\":\[\],\"correction_did_not_persist\":false'"

# Every item closed, then the repeat: flagged on both.
for i in $("$K" review items --open --json --db "$db" | grep -o '"id":[0-9]*' | cut -d: -f2); do
    "$K" review item "$i" drop --by bob --db "$db" >/dev/null
done
"$K" ingest --quiet --db "$db" "$T/b.ndjson" >/dev/null 2>&1
check repeat_after_closed_items_flagged bash -c "$K review show 2 --json --db $db | grep -q '\"correction_did_not_persist\":true'"
check earlier_review_reopened bash -c "$K review show 1 --json --db $db | grep -q '\"repeats\":\[2\],\"correction_did_not_persist\":true,\"reopened_by\":2'"
check not_persisted_in_timeline bash -c "$K incident show 1 --db $db | grep -q 'Correction did not persist: incident 2 repeats this one'"

# An overdue review and an overdue item are reminded in the timeline.
"$K" ingest --quiet --db "$T/o.db" - >/dev/null 2>&1 <<'EOF2'
{"type":"tick","ts":"2026-11-25T00:00:00Z"}
EOF2
check review_overdue_flag bash -c "$K review flags --db $T/o.db | grep -q 'review overdue: the review was due by 2026-11-24T12:05:00.000Z'"
check review_overdue_timeline bash -c "$K incident show 1 --db $T/o.db | grep -q 'Post-incident review overdue'"
# An editor that saves nothing new saves no review: the overdue review stays
# overdue (no empty review counts as written), and an edit that empties it is
# refused as \`review set\` refuses a document that sets nothing.
cp "$T/o.db" "$T/ed0.db"
check edit_unchanged_says_so bash -c "EDITOR=true $K review edit 1 --by alice --db $T/ed0.db | grep -qx 'review unchanged, nothing saved'"
check edit_unchanged_exits_0 env EDITOR=true "$K" review edit 1 --by alice --db "$T/ed0.db"
check edit_unchanged_still_overdue bash -c "$K review flags --db $T/ed0.db | grep -q 'review overdue: the review was due by 2026-11-24T12:05:00.000Z'"
check edit_unchanged_no_review_saved bash -c "$K review show 1 --json --db $T/ed0.db | jq -e '.review.by == null'"
printf '#!/bin/sh\nsed -i "s/^# Blameless.*/# nothing to say/" "$1"\n' >"$T/ed-empty.sh"
chmod +x "$T/ed-empty.sh"
EDITOR="$T/ed-empty.sh" "$K" review edit 1 --by alice --db "$T/ed0.db" </dev/null >/dev/null 2>"$T/ed-empty.err"
check edit_empty_exits_1 is 1 "$?"
check edit_empty_says_why grep -q 'saving it would empty the review' "$T/ed-empty.err"
rm -f "$(sed -n 's/.*(the text stays in \(.*\))$/\1/p; s/^kintsugi: the review is unchanged; fix \([^ ]*\) and run.*/\1/p' "$T/ed-empty.err" | head -1)"
check edit_empty_still_overdue bash -c "$K review flags --db $T/ed0.db | grep -q 'review overdue: the review was due by'"
# An item saved already late did not exist at its deadline: its overdue entry is
# stamped when it was saved, and the timeline stays oldest first.
printf 'root_cause: {category: system, text: x}\nwhys: [a, b, c]\naction_items:\n  - {text: late item, kind: prevention, owner: bob, due: 2026-11-24}\n' >"$T/late.yaml"
cp "$T/o.db" "$T/late.db"
"$K" review set 1 --file "$T/late.yaml" --by alice --db "$T/late.db" >/dev/null 2>&1
check late_item_overdue_when_saved bash -c "$K incident show 1 --json --db $T/late.db | jq -e '[.timeline[] | select(.text | startswith(\"Action item\")) | .at] == [\"2026-11-25T00:00:00.000Z\"] and ([.timeline[].at] | . == sort)'"

check report_same_bytes bash -c "[ \"\$($K report --json --db $db)\" = \"\$($K report --json --db $db)\" ]"
check report_keys bash -c "[ \"\$($K report --json --db $db | grep -o '\"[a-z_]*\":{\"value\"' | cut -d'\"' -f2 | head -13 | tr '\n' ' ')\" = 'initial_response customer_communication root_cause process_fix detection_gap contain resolve sla_attainment repeat_rate action_item_completion satisfaction retention cost_multiplier ' ]"
check report_repeat_rate bash -c "$K report --json --db $db | grep -q '\"repeat_rate\":{\"value\":0.5,\"unit\":\"ratio\",\"target\":0.05,\"met\":false,\"count\":2,\"missing\":\[\]}'"
# 2026-11-22 is a Sunday (ISO week 47), the repeat on Monday is in week 48.
check report_empty_window_is_usage exit_is 2 "$K" report --since 2026-12-01T00:00:00Z --until 2026-11-01T00:00:00Z --db "$db"
check report_json_and_markdown_is_usage exit_is 2 "$K" report --json --markdown --db "$db"
check report_by_week bash -c "$K report --by week --json --db $db | grep -q '\"groups\":\[{\"key\":\"2026-W47\",\"incidents\":1,.*{\"key\":\"2026-W48\",\"incidents\":1,'"
check report_bad_by exit_is 2 "$K" report --by month --db "$db"

check cost_set_direct "$K" cost set 1 direct 2500 --by alice --db "$db"
check cost_set_brand "$K" cost set 1 brand 10000 --by alice --db "$db"
check cost_in_timeline bash -c "$K incident show 1 --db $db | grep -q 'Cost part brand set to 10000.00 USD by alice'"
check cost_bad_part exit_is 2 "$K" cost set 1 goodwill 5 --by alice --db "$db"
check cost_json bash -c "$K cost 1 --json --db $db | grep -q '\"direct\":2500,'"
# usage errors exit 2 before the store is opened; an amount past 10^15 says so
check cost_bad_amount exit_is 2 "$K" cost set 1 brand abc --by alice --db "$db"
check cost_too_large exit_is 2 "$K" cost set 1 brand 10000000000000001 --by alice --db "$db"
check cost_too_large_says_why bash -c "$K cost set 1 brand 10000000000000001 --by alice --db $db 2>&1 | grep -q 'an amount is at most 1000000000000000 (10^15)'"
# An amount is read as remedy --amount reads one: decimal only (no hex, no
# exponent), at most two decimals; a negative one goes after "--" (else it is
# taken for an option) and is refused as an amount.
check cost_hex_exits_2 exit_is 2 "$K" cost set 1 brand 0x10 --by alice --db "$db"
check cost_hex_says_why bash -c "$K cost set 1 brand 0x10 --by alice --db $db 2>&1 | grep -qxF \"kintsugi: '0x10' is not an amount: a decimal number from 0 to 10^15 with at most two decimals (10000, 49.99)\""
check cost_exponent_exits_2 exit_is 2 "$K" cost set 1 brand 1e308 --by alice --db "$db"
check cost_three_decimals_exits_2 exit_is 2 "$K" cost set 1 brand 5.001 --by alice --db "$db"
check cost_negative_after_double_dash_exits_2 exit_is 2 "$K" cost set 1 brand --by alice --db "$db" -- -5
check cost_negative_says_why bash -c "$K cost set 1 brand --by alice --db $db -- -5 2>&1 | grep -qF \"kintsugi: '-5' is not an amount: a decimal number from 0\""
check cost_negative_without_double_dash_says_where bash -c "$K cost set 1 brand -5 --by alice --db $db 2>&1 | grep -qF \"unknown option '-5' (options are spelled --name; an argument that starts with '-' goes after '--'\""
check cost_refused_changed_nothing bash -c "$K cost 1 --json --db $db | grep -q '\"brand\":10000,'"
check cost_cents bash -c "$K cost set 1 response 49.99 --by alice --db $db | grep -qx 'incident 1: cost response set to 49.99 by alice'"
check cost_largest_taken "$K" cost set 1 brand 1000000000000000 --by alice --db "$db"
# the total keeps every digit: 10^15 of brand damage beside a direct cost of 2,500
check cost_total_every_digit bash -c "$K cost 1 --json --db $db | grep -q '\"brand\":1000000000000000,.*\"total\":10000000000[0-9.]*,'"

# ---- review documents: what a review holds --------------------------------------------
# A fresh incident (o.db's incident 1) with a rich review: items open, done
# and dropped. Its `review show --json` sets the same review again.
rv=$T/o.db
cat >"$T/rich.md" <<'EOF2'
---
root_cause: {category: system, text: "the WMS ran on one node: \"nobody\" owned its disk", known_risk: true}
whys: [the WMS stopped answering, its disk was full, logs were never rotated, "42"]
went_well: [fast detection]
improve: [alert on disk use]
action_items:
  - {text: rotate logs, owner: bob, due: 2026-11-30, kind: prevention}
  - {text: alert on disk, owner: carol, due: 2026-11-23T12:00:00Z, kind: immediate}
  - {text: add a node, owner: dave, kind: systematic}
  - {text: audit other hosts, kind: systematic}
---
# Notes

Ünïcode, "quotes" and a	tab.
EOF2
"$K" review set 1 --file "$T/rich.md" --by alice --db "$rv" >/dev/null
"$K" review item 3 done --by dave --note renewed --db "$rv" >/dev/null
"$K" review item 4 drop --by alice --db "$rv" >/dev/null
"$K" review show 1 --json --db "$rv" >"$T/show.json"
# what a review set again may change: who saved it last, the timeline's new note
editable() { jq -S 'del(.review.by, .review.updated_at, .timeline.entries, .people)' "$1"; }
check show_json_sets_again "$K" review set 1 --file "$T/show.json" --by carol --db "$rv"
"$K" review show 1 --json --db "$rv" >"$T/show2.json"
check show_json_round_trip_changes_nothing diff <(editable "$T/show.json") <(editable "$T/show2.json")
check show_json_round_trip_keeps_closures bash -c "jq -c '[.action_items[] | [.id, .status, .closed_by, .note]]' $T/show2.json | grep -qx '\[\[1,\"open\",null,null\],\[2,\"open\",null,null\],\[3,\"done\",\"dave\",\"renewed\"\],\[4,\"dropped\",\"alice\",null\]\]'"
check show_json_round_trip_says_nothing_cleared bash -c "$K review set 1 --file $T/show.json --by carol --db $rv 2>&1 >/dev/null | grep -c . | grep -qx 0"

# refused with FILE:LINE: reason, and nothing changes
want() { printf '%s' "$1" >"$T/want"; } # what the next `refused` expects on stderr
refused() { # NAME FILE: review set exits 1 with the line of $T/want, the review unchanged
    check "${1}_refused" bash -c "! $K review set 1 --file $2 --by eve --db $rv 2>$T/e && grep -qF -f $T/want $T/e"
    check "${1}_changes_nothing" diff <(editable "$T/show.json") <("$K" review show 1 --json --db "$rv" | editable /dev/stdin)
}
printf 'root_cause: {category: system, text: x}\nwhys: [~, ~, ~]\n' >"$T/null.yaml"
want "null.yaml:2: whys[0]: must be text, got null"; refused null_whys_yaml "$T/null.yaml"
printf '{"whys": [null, null, null]}\n' >"$T/null.json"
want "null.json:1: whys[0]: must be text, got null"; refused null_whys_json "$T/null.json"
printf '{"went_well": ["a", 5]}\n' >"$T/num.json"
want 'num.json:1: went_well[1]: must be text, got a number (5)'; refused number_in_went_well "$T/num.json"
printf -- '---\nwhys: [a, b, c]\n---\n# Notes\nsome \xff text\n' >"$T/bad8.md"
want "bad8.md:5: the notes are not valid UTF-8"; refused notes_not_utf8 "$T/bad8.md"
printf '{"whys": ["a", "b", "first part\\u0000second part"]}\n' >"$T/nul.json"
want "nul.json:1: a NUL character (\0 or \u0000) is not allowed in a review's text"; refused nul_in_why "$T/nul.json"
printf '{"root_cause": {"category": "system", "text": "x", "known_risk": "true"}, "whys": ["a","b","c"]}\n' >"$T/kr.json"
want 'kr.json:1: root_cause.known_risk: must be true or false (a boolean, unquoted), got the text "true"'; refused known_risk_string "$T/kr.json"
printf 'root_cause:\n  known_risk: "false"\n' >"$T/kr.yaml"
want 'kr.yaml:2: root_cause.known_risk: must be true or false (a boolean, unquoted)'; refused known_risk_quoted_yaml "$T/kr.yaml"
printf '{"whys": ["a", "b" "c"]}\n' >"$T/syntax.json"
want "syntax.json:1: not valid JSON: "; refused json_syntax "$T/syntax.json"
python3 -c "print('whys: [' + ', '.join('w%d' % i for i in range(101)) + ']')" >"$T/many.yaml"
want "many.yaml:1: whys: at most 100 entries (this list has 101)"; refused too_many_whys "$T/many.yaml"
python3 -c "print('whys: [a, b, \"' + 'x' * 8193 + '\"]')" >"$T/long.yaml"
want "long.yaml:1: whys[2]: at most 8192 bytes of text (this one has 8193)"; refused why_too_long "$T/long.yaml"
python3 -c "print('whys: [a]'); print('#' + 'x' * (1 << 20))" >"$T/huge.yaml"
want "huge.yaml:1: a review is at most 1048576 bytes (1 MiB)"; refused review_too_large "$T/huge.yaml"

# A review is set whole: a file with one key empties the others, and says so.
printf 'went_well: [fast detection]\n' >"$T/part.yaml"
check partial_review_says_what_it_emptied bash -c "$K review set 1 --file $T/part.yaml --by carol --db $rv 2>$T/e >/dev/null && grep -qx 'kintsugi: the review is set whole: emptied root_cause, whys, improve, notes, action_items (left out of the file or given empty); deleted action items 1, 2, 3, 4 (2 of them closed: done or dropped)' $T/e"
# A money figure is written as people read it: an order of 671.70 is a
# revenue of 671.7, not of 671.70000000000005 (the binary fraction's 17 digits).
outage_orders 1 671.7 30 all >"$T/m.ndjson"
"$K" ingest --quiet --db "$T/m.db" "$T/m.ndjson" >/dev/null 2>&1
check review_json_money_as_written bash -c "$K review show 1 --json --db $T/m.db | grep -q '\"revenue\":671.7[,}]'"
echo "RESULT passed=$passed failed=$failed"
