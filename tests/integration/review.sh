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
# An item saved already late did not exist at its deadline: its overdue entry is
# stamped when it was saved, and the timeline stays oldest first.
printf 'root_cause: {category: system, text: x}\nwhys: [a, b, c]\naction_items:\n  - {text: late item, kind: prevention, owner: bob, due: 2026-11-24}\n' >"$T/late.yaml"
"$K" review set 1 --file "$T/late.yaml" --by alice --db "$T/o.db" >/dev/null 2>&1
check late_item_overdue_when_saved bash -c "$K incident show 1 --json --db $T/o.db | jq -e '[.timeline[] | select(.text | startswith(\"Action item\")) | .at] == [\"2026-11-25T00:00:00.000Z\"] and ([.timeline[].at] | . == sort)'"

check report_same_bytes bash -c "[ \"\$($K report --json --db $db)\" = \"\$($K report --json --db $db)\" ]"
check report_keys bash -c "[ \"\$($K report --json --db $db | grep -o '\"[a-z_]*\":{\"value\"' | cut -d'\"' -f2 | head -13 | tr '\n' ' ')\" = 'initial_response customer_communication root_cause process_fix detection_gap contain resolve sla_attainment repeat_rate action_item_completion satisfaction retention cost_multiplier ' ]"
check report_repeat_rate bash -c "$K report --json --db $db | grep -q '\"repeat_rate\":{\"value\":0.5,\"unit\":\"ratio\",\"target\":0.05,\"met\":false,\"count\":2,\"missing\":\[\]}'"
# 2026-11-22 is a Sunday (ISO week 47), the repeat on Monday is in week 48.
check report_by_week bash -c "$K report --by week --json --db $db | grep -q '\"groups\":\[{\"key\":\"2026-W47\",\"incidents\":1,.*{\"key\":\"2026-W48\",\"incidents\":1,'"
check report_bad_by exit_is 2 "$K" report --by month --db "$db"

check cost_set_direct "$K" cost set 1 direct 2500 --by alice --db "$db"
check cost_set_brand "$K" cost set 1 brand 10000 --by alice --db "$db"
check cost_in_timeline bash -c "$K incident show 1 --db $db | grep -q 'Cost part brand set to 10000.00 USD by alice'"
check cost_bad_part exit_is 1 "$K" cost set 1 goodwill 5 --by alice --db "$db"
check cost_json bash -c "$K cost 1 --json --db $db | grep -q '\"direct\":2500,'"
echo "RESULT passed=$passed failed=$failed"
