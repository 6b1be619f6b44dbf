#!/usr/bin/env bash
# CLI integration tests: the real binary (sanitizer build) against real SQLite
# files. Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"

check help_exits_0 exit_is 0 "$K" --help
check every_command_has_help bash -c "for c in ingest incidents incident deadletters check-config simulate demo guard feed action reconcile hooks; do $K \$c --help | grep -q usage: || exit 1; done"
# the faults as JSON: every one the text list names, with its incident type
faults_json() {
    local text json
    text=$("$K" simulate --list-faults | awk 'NR > 1 && $1 != "all" {print $1 " " $2}')
    json=$("$K" simulate --list-faults --json | jq -r '.[] | "\(.fault) \(.type)"')
    [ -n "$json" ] && [ "$text" = "$json" ]
}
check simulate_list_faults_json faults_json
check simulate_json_alone_is_usage exit_is 2 "$K" simulate --json
# --start takes what an event's ts takes (epoch milliseconds too); one out of
# range says so and gives the range; a --fault that names none is refused.
check simulate_start_epoch_ms cmp <("$K" simulate --start 1795341600000 --duration 1h --skus 200) <("$K" simulate --start 2026-11-22T10:00:00Z --duration 1h --skus 200)
check simulate_start_out_of_range_exits_2 exit_is 2 "$K" simulate --start 9999-12-31T23:00:00Z --duration 1h
check simulate_start_out_of_range_says_range bash -c "$K simulate --start 9999-12-31T23:00:00Z --duration 1h 2>&1 | grep -qxF 'kintsugi: start 9999-12-31T23:00:00.000Z is out of range: it must be from 1970-01-01T00:00:00.000Z to 9000-01-01T00:00:00.000Z'"
check simulate_empty_fault_exits_2 exit_is 2 "$K" simulate --fault '' --duration 1h
check simulate_empty_fault_lists_faults bash -c "$K simulate --fault '' --duration 1h 2>&1 >/dev/null | head -2 | tr '\n' '|' | grep -qxF \"kintsugi: --fault: '' names no fault|faults (each causes the incident type shown; see docs/SIMULATOR.md):|\""
# and says what its exit status means, which scripts rely on
check every_help_has_exit_status bash -c "for c in ingest serve publish incidents incident deadletters check-config simulate demo guard feed action reconcile hooks messages report review remedy token cost; do $K \$c --help | grep -q '^exit status: 0 ' || { echo \$c; exit 1; }; done"
check unknown_command_exits_2 exit_is 2 "$K" frobnicate
check ingest_without_files_exits_2 exit_is 2 "$K" ingest --db "$T/x.db"
mkdir -p "$T/adir"
check ingest_of_a_directory_exits_2 exit_is 2 "$K" ingest --db "$T/dir.db" "$T/adir"
check ingest_of_a_directory_makes_no_db [ ! -e "$T/dir.db" ]
check ingest_missing_file_exits_1 exit_is 1 "$K" ingest --db "$T/x.db" /nonexistent.ndjson
check unknown_option_exits_2 exit_is 2 "$K" incidents --colour
check reading_a_missing_db_exits_1 exit_is 1 "$K" incidents --db "$T/typo.db"
check reading_does_not_create_it [ ! -e "$T/typo.db" ]
# --db "" and a directory are usage errors, said as such, in every command.
check db_empty_exits_2_everywhere bash -c "for c in incidents 'incident show 1' deadletters 'guard status' 'token list' 'ingest -' 'review flags' report; do $K \$c --db '' </dev/null >/dev/null 2>&1; [ \$? -eq 2 ] || { echo \"\$c\"; exit 1; }; done"
check db_empty_says_why bash -c "$K incidents --db '' 2>&1 | grep -qx 'kintsugi: --db needs a file name or a postgresql:// URI' && $K ingest --db '' /nonexistent.ndjson 2>&1 | grep -qx 'kintsugi: --db needs a file name or a postgresql:// URI'"
check db_directory_exits_2 exit_is 2 "$K" incidents --db "$T/adir"
check db_directory_says_so bash -c "$K ingest --db $T/adir - </dev/null 2>&1 | grep -qx 'kintsugi: $T/adir: is a directory (--db needs a file name or a postgresql:// URI)'"
check config_directory_says_so bash -c "$K check-config $T/adir 2>&1 | grep -qx '$T/adir: is a directory (a configuration is a YAML file)' && $K ingest --config $T/adir --db $T/cfgdir.db - </dev/null 2>&1 | grep -qx 'kintsugi: $T/adir: is a directory (a configuration is a YAML file)'"
# `kintsugi help COMMAND` is `kintsugi COMMAND --help`; an option before the
# command says that options come after it.
check help_command_is_its_help bash -c "cmp <($K help incidents) <($K incidents --help)"
check help_unknown_command_exits_2 exit_is 2 "$K" help frobnicate
check option_before_command_exits_2 exit_is 2 "$K" --db x.db incidents
check option_before_command_says_so bash -c "$K --db x.db incidents --json 2>&1 | grep -qx \"kintsugi: '--db' is an option, and options come after the command: kintsugi incidents --db x.db --json\""
# Each help's exit status is true of its command; --db is described alike.
check check_config_help_says_its_exit_status bash -c "$K check-config --help | grep -q '^exit status: 0 the file is valid' && ! $K check-config --help | grep -q 'nothing found by that name'"
check db_help_names_postgresql bash -c "for c in messages remedy incidents deadletters; do $K \$c --help | grep -q '^  --db VALUE .*postgresql://' || { echo \$c; exit 1; }; done"

# --- ingest and read back -------------------------------------------------------------
check ingest_zero_spike "$K" ingest --db "$T/a.db" "$SC/zero_spike_p1/events.ndjson"
check incidents_json_lists_the_incident bash -c "$K incidents --db $T/a.db --json | grep -q '\"type\":\"data_corruption\",\"severity\":\"P1\"'"
check options_after_arguments bash -c "$K incident show 1 --db $T/a.db --json | grep -q '\"timeline\":\\[{\"at\":\"2026-11-22T10:16:00.000Z\",\"kind\":\"signal\"'"
check show_unknown_incident_exits_1 exit_is 1 "$K" incident show 99 --db "$T/a.db"
# Every reading command takes --config (scripts pass it everywhere); a
# configuration that cannot be read is a usage error, as for the others.
check every_reader_takes_config bash -c "for c in incidents 'incident show 1' 'incident verify 1' 'feed amazon' 'feed amazon --state' reconcile deadletters 'guard status' hooks messages 'review show 1' report 'remedy list' 'action list'; do $K \$c --config examples/kintsugi.yaml --db $T/a.db >/dev/null || { echo \"\$c\"; exit 1; }; $K \$c --config $T/none.yaml --db $T/a.db >/dev/null 2>&1; [ \$? -eq 2 ] || { echo \"\$c: bad config\"; exit 1; }; done"
# An id beyond 64 bits is refused, not clamped to 9223372036854775807 and looked up.
check oversized_incident_id_exits_2 exit_is 2 "$K" incident show 99999999999999999999 --db "$T/a.db"
check oversized_incident_id_says_why bash -c "$K incident show 99999999999999999999 --db $T/a.db 2>&1 | grep -q \"^kintsugi: '99999999999999999999' is not an incident id (a whole number from 1 to 9223372036854775807)\""
check oversized_ids_refused_everywhere bash -c "for c in 'guard rollback 99999999999999999999 --by a' 'guard accept 99999999999999999999 --by a' 'action approve 99999999999999999999 zero_channel --by a' 'deadletters fix 99999999999999999999 {}' 'deadletters replay --id 99999999999999999999'; do $K \$c --db $T/a.db 2>&1 | grep -q ' is not an\? .* id (a whole number from 1 to 9223372036854775807)' || exit 1; $K \$c --db $T/a.db >/dev/null 2>&1; [ \$? -eq 2 ] || exit 1; done"
# A wrong or unknown subcommand is answered with the ones there are.
check subcommand_errors_name_the_subcommands bash -c "$K deadletters fix 1 --db $T/a.db 2>&1 | grep -q \"'deadletters fix ID LINE' or 'deadletters replay\" && $K deadletters frob --db $T/a.db 2>&1 | grep -q \"unknown deadletters command 'frob'\" && $K guard frob --db $T/a.db 2>&1 | grep -q 'use status, pause, release, rollback or accept' && $K guard rollback --db $T/a.db 2>&1 | grep -q 'it takes one INCIDENT id' && $K action frob --db $T/a.db 2>&1 | grep -q \"'action list' or 'action approve\" && $K hooks frob --db $T/a.db 2>&1 | grep -q \"'hooks list', 'hooks deliver' or 'hooks retry KEY'\" && $K incident frob --db $T/a.db 2>&1 | grep -q 'use show, verify, ack, status, note, assign or step'"
check subcommand_errors_exit_2 bash -c "for c in 'deadletters fix 1' 'deadletters frob' 'guard frob' 'action frob' 'hooks frob' 'incident frob' 'incident show'; do $K \$c --db $T/a.db >/dev/null 2>&1; [ \$? -eq 2 ] || exit 1; done"
check human_list_has_a_header bash -c "$K incidents --db $T/a.db | head -1 | grep -q '^ID'"
check status_filter bash -c "[ \"\$($K incidents --db $T/a.db --status resolved --json)\" = '[]' ]"
check bad_status_filter_exits_2 exit_is 2 "$K" incidents --db "$T/a.db" --status done
# Control characters from event data (an escape sequence, a newline in a title) never
# reach the terminal in the text forms; the JSON keeps them, escaped.
for i in 0 1 2 3 4 5 6 7 8 9; do printf '{"type":"complaint","ts":"2026-11-22T10:0%s:00Z","reason":"bad\\u001b[31mred\\nFAKE","sku":"S1"}\n' $i; done >"$T/esc.ndjson"
"$K" ingest --db "$T/esc.db" "$T/esc.ndjson" >/dev/null 2>&1
check text_has_no_control_chars bash -c "! { $K incidents --db $T/esc.db; $K incident show 1 --db $T/esc.db; } | LC_ALL=C grep -q \$'[\x01-\x08\x0b-\x1f\x7f]'"
check text_title_one_line bash -c "$K incidents --db $T/esc.db | grep -q \"'bad?\\[31mred FAKE'\""
check json_keeps_them bash -c "$K incidents --db $T/esc.db --json | jq -r '.[0].title' | grep -q \$'bad\x1b\\[31mred'"
# Every text form, not only the incident views: a dead letter's raw line, a
# channel's feed, the guard, the review.
printf '{bad \033[2J\033]0;pwned\007 line\r\n{"type":"inventory","ts":"2026-11-22T11:00:00Z","channel":"a\\u001b[31mred","sku":"x\\u0007","qty":1}\n' >"$T/esc2.ndjson"
"$K" ingest --db "$T/esc.db" "$T/esc2.ndjson" >/dev/null 2>&1
check all_text_forms_have_no_control_chars bash -c "! { $K deadletters --db $T/esc.db; $K feed \$'a\x1b[31mred' --db $T/esc.db; $K guard status --db $T/esc.db; $K review show 1 --db $T/esc.db; $K reconcile --db $T/esc.db; } | LC_ALL=C grep -q \$'[\x01-\x08\x0b-\x1f]'"
check deadletter_raw_shown_with_marks bash -c "$K deadletters --db $T/esc.db | grep -qF '{bad ?[2J?]0;pwned? line?'"
check deadletter_json_keeps_raw bash -c "$K deadletters --db $T/esc.db --json | jq -r '.[0].raw' | grep -q \$'\x1b\\[2J'"
# C1 controls (C2 9B is CSI to a UTF-8 terminal) and bytes that are not UTF-8
# (a lone 9B is CSI to a Latin-1 one) are '?' too; the JSON escapes C1 as C0.
cp "$T/esc.db" "$T/c1.db"
"$K" incident note 1 "$(printf 'c1: \xc2\x9b31mRED')" --by bob --db "$T/c1.db" >/dev/null
printf '{"type":"tick","ts":"x\x9b31m"}\n' >"$T/c1.ndjson"
"$K" ingest --db "$T/c1.db" "$T/c1.ndjson" >/dev/null 2>&1
check text_has_no_c1_controls bash -c "! { $K incident show 1 --db $T/c1.db; $K deadletters --db $T/c1.db; } | LC_ALL=C grep -q \$'\xc2[\x80-\x9f]'"
check text_has_no_raw_csi bash -c "! { $K incident show 1 --db $T/c1.db; $K deadletters --db $T/c1.db; } | LC_ALL=C grep -q \$'\x9b'"
check text_c1_shown_as_mark bash -c "$K incident show 1 --db $T/c1.db | grep -q 'bob *c1: ?31mRED\$'"
check text_raw_csi_shown_as_mark bash -c "$K deadletters --db $T/c1.db | grep -qF '\"ts\":\"x?31m\"'"
check json_escapes_c1 bash -c "$K incident show 1 --json --db $T/c1.db | grep -qF 'c1: \\u009b31mRED' && $K incident show 1 --json --db $T/c1.db | jq -r '.timeline[].text' | grep -q \$'c1: \xc2\x9b31mRED'"
# Time options take what an event's ts takes: RFC 3339 or epoch milliseconds;
# an error names the option that was wrong.
check time_option_epoch_ms bash -c "[ \"\$($K report --since 1795338000000 --until 1795338060000 --json --db $T/esc.db | jq -c '[.since, .until]')\" = '[\"2026-11-22T09:00:00.000Z\",\"2026-11-22T09:01:00.000Z\"]' ]"
check time_option_error_names_it bash -c "$K report --until 2026-13-01 --db $T/esc.db 2>&1 | grep -q \"^kintsugi: --until '2026-13-01'\" && $K review flags --now 99999999999999999 --db $T/esc.db 2>&1 | grep -q \"^kintsugi: --now '99999999999999999' must be epoch milliseconds\""
# A person's --at before the engine clock is recorded at the clock, and says so.
cp "$T/esc.db" "$T/at.db"
check at_before_clock_says_so bash -c "$K incident note 1 'late note' --by bob --at 2020-01-01T00:00:00Z --db $T/at.db 2>&1 >/dev/null | grep -q '^kintsugi: note: --at 2020-01-01T00:00:00.000Z is before the engine clock (2026-11-22T11:00:00.000Z): recorded at 2026-11-22T11:00:00.000Z'"
check at_before_clock_recorded_at_the_clock is '"2026-11-22T11:00:00.000Z"' "$("$K" incident show 1 --json --db "$T/at.db" | jq -c '[.timeline[] | select(.text == "late note") | .at] | .[0]')"
check bad_counts_exit_2 bash -c "for c in 'reconcile --limit -1' 'reconcile --limit 2x' 'feed amazon --limit abc' 'feed amazon --since -3' 'hooks --status bogus' 'incidents --type bogus'; do $K \$c --db $T/a.db >/dev/null 2>&1; [ \$? -eq 2 ] || exit 1; done"
# A cursor past the end of a feed is refused with nothing on stdout (a
# script reading the table sees no header of a table that is not there).
check feed_past_end_exits_1 exit_is 1 "$K" feed amazon --since 999999 --db "$T/a.db"
check feed_past_end_prints_nothing is "" "$("$K" feed amazon --since 999999 --db "$T/a.db" 2>/dev/null)"
check feed_empty_table_has_header bash -c "$K feed amazon --since \$($K feed amazon --db $T/a.db | sed -n 's/^cursor: \\([0-9]*\\).*/\\1/p') --db $T/a.db | head -1 | grep -q '^SEQ '"
# Severity, type and channel filter on the store's columns (the scope's channels).
check column_filters_keep bash -c "cmp <($K incidents --db $T/a.db --json) <($K incidents --db $T/a.db --status open --severity P1 --type data_corruption --channel amazon --json)"
check column_filters_drop bash -c "[ \"\$($K incidents --db $T/a.db --severity P2 --json)\" = '[]' ] && [ \"\$($K incidents --db $T/a.db --channel ebay --type data_corruption)\" = \"\$(printf '%-5s %-3s %-13s %-19s %-24s  %s\\n(no incidents with type data_corruption, channel ebay)' ID SEV STATUS TYPE DETECTED TITLE)\" ]"
check bad_severity_filter_exits_2 bash -c "$K incidents --db $T/a.db --severity P4 2>&1 | grep -q \"^kintsugi: unknown --severity 'P4' (use P1, P2 or P3)\" && { $K incidents --db $T/a.db --severity P4 >/dev/null 2>&1; [ \$? -eq 2 ]; }"

# --- actions ----------------------------------------------------------------------------
check action_without_by_exits_2 exit_is 2 "$K" incident ack 1 --db "$T/a.db"
check ack "$K" incident ack 1 --by alice --db "$T/a.db"
check ack_recorded bash -c "$K incident show 1 --db $T/a.db --json | grep -q '\"acknowledged_at\":\"2026-11-22T10:16:00.000Z\"'"
check resolving_with_at "$K" incident status 1 resolving --by alice --at 2026-11-22T10:20:00Z --db "$T/a.db"
check backwards_status_exits_1 exit_is 1 "$K" incident status 1 investigating --by alice --db "$T/a.db"
check unknown_status_exits_2 exit_is 2 "$K" incident status 1 done --by alice --db "$T/a.db"
check note "$K" incident note 1 "erp import re-run" --by bob --db "$T/a.db"
check note_in_timeline bash -c "$K incident show 1 --db $T/a.db --json | grep -q '\"kind\":\"note\",\"actor\":\"bob\",\"text\":\"erp import re-run\"'"
# Text that starts with '-' goes after "--", the end of the options; without it
# the word is an unknown option, and the message says where it goes.
check note_after_double_dash "$K" incident note 1 --by bob --db "$T/a.db" -- '-5 units were missing'
check note_after_double_dash_in_timeline bash -c "$K incident show 1 --db $T/a.db --json | jq -e '[.timeline[] | select(.text == \"-5 units were missing\" and .actor == \"bob\")] | length == 1'"
check dash_text_without_double_dash_exits_2 exit_is 2 "$K" incident note 1 '-5 units were missing' --by bob --db "$T/a.db"
check dash_text_without_double_dash_says_where bash -c "$K incident note 1 '-5 units were missing' --by bob --db $T/a.db 2>&1 | grep -qxF \"kintsugi: unknown option '-5 units were missing' (options are spelled --name; an argument that starts with '-' goes after '--', which ends the options; see --help)\""
check every_help_names_double_dash bash -c "for c in incident cost deadletters review; do $K \$c --help | grep -q \"^  --  *end of options\" || { echo \$c; exit 1; }; done"
# An owner: the same one again records nothing (exit 1, as the same status);
# a control character, C1 included, is refused (exit 2).
check assign "$K" incident assign 1 carol --by bob --db "$T/a.db"
check assign_same_exits_1 exit_is 1 "$K" incident assign 1 carol --by bob --db "$T/a.db"
check assign_same_says_so bash -c "$K incident assign 1 carol --by bob --db $T/a.db 2>&1 | grep -q '^kintsugi: incident 1 is already assigned to carol; nothing recorded'"
check assign_recorded_once is 1 "$("$K" incident show 1 --json --db "$T/a.db" | jq '[.timeline[] | select(.text == "Assigned to carol by bob")] | length')"
check assign_c1_exits_2 exit_is 2 "$K" incident assign 1 $'x\xc2\x85y' --by bob --db "$T/a.db"
# Who did it (--by) is a person's name, as an owner is: not blank, at most 200
# bytes of UTF-8, no control character; anything else is a usage error that
# records nothing, in every command that takes --by.
check by_blank_exits_2 exit_is 2 "$K" incident note 1 'x' --by ' ' --db "$T/a.db"
check by_blank_says_why bash -c "$K incident note 1 x --by ' ' --db $T/a.db 2>&1 | grep -qx \"kintsugi: --by: a person's name is blank\""
check by_newline_says_why bash -c "$K incident note 1 x --by \$'bo\nb' --db $T/a.db 2>&1 | grep -qx \"kintsugi: --by: a person's name holds a control character (byte 3)\""
check by_c1_exits_2 exit_is 2 "$K" incident note 1 'x' --by $'x\xc2\x9by' --db "$T/a.db"
check by_invalid_utf8_says_why bash -c "$K incident note 1 x --by \$'d\xffn' --db $T/a.db 2>&1 | grep -qx \"kintsugi: --by: a person's name is not valid UTF-8 (byte 2)\""
check by_100k_says_why bash -c "$K incident note 1 x --by \$(head -c 102400 /dev/zero | tr '\\0' a) --db $T/a.db 2>&1 | grep -qx \"kintsugi: --by: a person's name is at most 200 bytes (this one has 102400)\""
check by_refused_recorded_nothing is 0 "$("$K" incident show 1 --json --db "$T/a.db" | jq '[.timeline[] | select(.text == "x")] | length')"
check by_refused_everywhere bash -c "for c in 'incident ack 1' 'guard pause amazon' 'action approve 1 zero_channel' 'review item 1 done' 'review edit 1' 'cost set 1 brand 5' 'remedy grant 1 --order o1 --kind refund' 'hooks retry k' 'messages retry-failed'; do $K \$c --by ' ' --db $T/a.db >/dev/null 2>&1; [ \$? -eq 2 ] || { echo \"\$c\"; exit 1; }; done"
check by_utf8_name_taken bash -c "$K incident note 1 'from Zoë' --by 'Zoë Ünal' --db $T/a.db | grep -qx 'incident 1: note added by Zoë Ünal'"

# --- determinism and restart --------------------------------------------------------------
ev=$SC/sync_stale_escalates/events.ndjson
check one_run "$K" ingest --db "$T/one.db" "$ev"
check same_input_same_json bash -c "$K ingest --db $T/two.db $ev >/dev/null && cmp <($K incidents --db $T/one.db --json) <($K incidents --db $T/two.db --json)"
n=$(wc -l <"$ev")
head -n 9 "$ev" >"$T/part1.ndjson"
tail -n $((n - 9)) "$ev" >"$T/part2.ndjson"
check restart_in_the_middle bash -c "$K ingest --db $T/split.db $T/part1.ndjson >/dev/null && $K ingest --db $T/split.db $T/part2.ndjson >/dev/null && cmp <($K incident show 1 --db $T/one.db --json) <($K incident show 1 --db $T/split.db --json)"
check stdin_input bash -c "$K ingest --db $T/stdin.db - <$ev >/dev/null && cmp <($K incidents --db $T/one.db --json) <($K incidents --db $T/stdin.db --json)"

# The scope in words, a line per kind, the first 8 SKUs and a count.
"$K" ingest --quiet --db "$T/shift.db" "$SC/distribution_shift_p2/events.ndjson" >/dev/null 2>&1
scope_lines() {
    "$K" incident show 1 --db "$T/shift.db" | sed -n '/^  scope /,/^  impact /p' >"$T/scope.txt"
    printf '%s\n' '  scope            channels: shopify' \
        '                   SKUs: 11 (SKU-0001, SKU-0002, SKU-0003, SKU-0004, SKU-0005, SKU-0006, SKU-0007, SKU-0008, and 3 more)' \
        '                   sources: erp' | cmp - <(head -3 "$T/scope.txt")
}
check show_scope_in_words scope_lines

# --- bad input and dead letters -------------------------------------------------------------
bad=$SC/bad_input_is_rejected_and_not_applied/events.ndjson
"$K" ingest --db "$T/bad.db" "$bad" >"$T/ing.out" 2>"$T/ing.err"
check ingest_with_rejections_exits_0 [ $? -eq 0 ]
check rejection_line_format grep -q "^$bad:2: sync: field \"status\" must be one of " "$T/ing.err"
check one_line_per_rejection bash -c "[ \$(grep -c '^$bad:[0-9]*: ' $T/ing.err) -eq 16 ]"
check summary_counts grep -q "16 rejected, 1 duplicates" "$T/ing.out"
# On a terminal the first 20 rejections are printed and the rest counted;
# redirected, every one (above: 16 of 16).
for i in $(seq 1 25); do echo "{\"type\":\"tick\",\"ts\":\"bad-$i\"}"; done >"$T/bad25.ndjson"
script -qfec "$K ingest --db $T/bad25.db $T/bad25.ndjson" /dev/null >"$T/bad25.tty" 2>&1
tty_rejects() {
    [ "$(tr '\r' '\n' <"$T/bad25.tty" | grep -c "^$T/bad25.ndjson:[0-9]*: tick: ")" -eq 20 ] &&
        tr '\r' '\n' <"$T/bad25.tty" | grep -q "^$T/bad25.ndjson:21 and further rejected lines are counted, not printed here" &&
        grep -q "25 rejected" "$T/bad25.tty"
}
check tty_prints_the_first_20_rejections tty_rejects
check tty_keeps_every_rejection bash -c "[ \$($K deadletters --db $T/bad25.db --json | jq length) -eq 25 ]"
check redirected_prints_every_rejection bash -c "[ \$($K ingest --db $T/bad25r.db $T/bad25.ndjson 2>&1 >/dev/null | grep -c ': tick: ') -eq 25 ]"
check deadletters_json bash -c "[ \$($K deadletters --db $T/bad.db --json | grep -o '\"line\":' | wc -l) -eq 16 ]"
check deadletters_keep_invalid_utf8_visibly bash -c "$K deadletters --db $T/bad.db --json | grep -q 'invalid UTF-8'"
id=$("$K" deadletters --db "$T/bad.db" --json | grep -o '"id":[0-9]*,"line":2,' | grep -o '[0-9]*' | head -1)
check fix_dead_letter "$K" deadletters fix "$id" '{"type":"sync","ts":"2026-11-22T10:33:00Z","channel":"ebay","status":"ok"}' --db "$T/bad.db"
check replay_one "$K" deadletters replay --id "$id" --db "$T/bad.db"
check replayed_is_not_pending bash -c "[ \$($K deadletters --db $T/bad.db --json | grep -o '\"line\":' | wc -l) -eq 15 ]"
# A dead letter replayed already is applied: a fix would put it back to pending
# and the next replay would apply its event a second time.
check fix_replayed_exits_1 exit_is 1 "$K" deadletters fix "$id" '{"type":"sync","ts":"2026-11-22T10:34:00Z","channel":"ebay","status":"ok"}' --db "$T/bad.db"
check fix_replayed_says_why bash -c "$K deadletters fix $id '{}' --db $T/bad.db 2>&1 | grep -qx 'kintsugi: dead letter $id was replayed already: its event is applied, and fixing it would apply it a second time; send a corrected event as new input instead'"
check fix_replayed_stays_replayed bash -c "$K deadletters --all --db $T/bad.db --json | jq -e --argjson id $id '.[] | select(.id == \$id) | .status == \"replayed\" and (.raw | contains(\"10:33:00Z\"))'"
check fix_unknown_exits_1 exit_is 1 "$K" deadletters fix 9999 '{}' --db "$T/bad.db"
check replay_all_keeps_the_still_broken bash -c "$K deadletters replay --db $T/bad.db 2>/dev/null | grep -q '0 dead letters, 15 still rejected'"
check replay_still_rejected_exits_1 exit_is 1 "$K" deadletters replay --db "$T/bad.db"
id2=$("$K" deadletters --db "$T/bad.db" --json | grep -o '"id":[0-9]*' | grep -o '[0-9]*' | head -1)
"$K" deadletters replay --id "$id2" --db "$T/bad.db" >"$T/r1.out" 2>"$T/r1.err"
check replay_one_still_rejected_exits_1 is 1 "$?"
check replay_one_still_rejected_says_so grep -q "1 dead letter is still rejected: it stays pending" "$T/r1.err"
check replay_one_still_rejected_stays_pending bash -c "[ \$($K deadletters --db $T/bad.db --json | grep -o '\"line\":' | wc -l) -eq 15 ]"
check list_with_id_is_usage exit_is 2 "$K" deadletters --id 1 --db "$T/bad.db"
# An empty fix would be replayed as nothing at all and marked replayed.
raw2=$("$K" deadletters --db "$T/bad.db" --json | jq -c --argjson id "$id2" '.[] | select(.id == $id) | [.raw, .status]')
check fix_empty_line_exits_2 exit_is 2 "$K" deadletters fix "$id2" '' --db "$T/bad.db"
check fix_blank_line_exits_2 exit_is 2 "$K" deadletters fix "$id2" $' \t\n' --db "$T/bad.db"
check fix_empty_line_says_why bash -c "$K deadletters fix $id2 ' ' --db $T/bad.db 2>&1 | grep -q \"^kintsugi: the corrected line is empty: 'deadletters fix ID LINE' takes the whole event\""
check fix_empty_line_changes_nothing is "$raw2" "$("$K" deadletters --db "$T/bad.db" --json | jq -c --argjson id "$id2" '.[] | select(.id == $id) | [.raw, .status]')"

# --- configuration ---------------------------------------------------------------------------
check example_config_is_valid "$K" check-config examples/kintsugi.yaml
printf 'detectors:\n  zero_spik: {skus_pct: 5}\n' >"$T/bad.yaml"
check bad_config_exits_2 exit_is 2 "$K" check-config "$T/bad.yaml"
check bad_config_names_the_line bash -c "$K check-config $T/bad.yaml 2>&1 | grep -q ':2: key \"detectors.zero_spik\"'"
check ingest_with_bad_config_exits_2 exit_is 2 "$K" ingest --config "$T/bad.yaml" --db "$T/c.db" "$ev"
printf 'detectors:\n  sync_freshness: {interval: 5m}\n' >"$T/fast.yaml"
check config_changes_thresholds bash -c "$K ingest --config $T/fast.yaml --db $T/fast.db $ev >/dev/null && $K incidents --db $T/fast.db --json | grep -q '\"detected_at\":\"2026-11-22T10:25:00.000Z\"'"

# The templates directory (docs/MESSAGES.md): one that is not there is refused by
# check-config, ingest and serve alike, never replaced by the built-in templates.
printf 'messages:\n  templates: /nonexistent/templatez\n' >"$T/notpl.yaml"
check templates_missing_dir_exits_2 exit_is 2 "$K" check-config "$T/notpl.yaml"
check templates_missing_dir_names_line_and_path bash -c "$K check-config $T/notpl.yaml 2>&1 | grep -qxF '$T/notpl.yaml:2: key \"messages.templates\": /nonexistent/templatez: no such directory'"
check templates_missing_dir_ingest_exits_2 exit_is 2 "$K" ingest --config "$T/notpl.yaml" --db "$T/notpl.db" "$ev"
check templates_missing_dir_serve_exits_2 exit_is 2 timeout 20 "$K" serve --listen 127.0.0.1:0 --config "$T/notpl.yaml" --db "$T/notpl.db"
check templates_missing_dir_serve_says_why bash -c "timeout 20 $K serve --listen 127.0.0.1:0 --config $T/notpl.yaml --db $T/notpl.db 2>&1 | grep -qF '/nonexistent/templatez: no such directory'"
printf 'messages:\n  templates: notpl.yaml\n' >"$T/filetpl.yaml"
check templates_file_is_not_a_dir bash -c "$K check-config $T/filetpl.yaml 2>&1 | grep -qxF '$T/filetpl.yaml:2: key \"messages.templates\": $T/notpl.yaml: not a directory'"
# Every problem of every template, one line each (and one JSON element each); a
# misspelled file name is one of them, an editor's backup is not read.
mkdir -p "$T/three/tpl"
printf 'messages:\n  templates: tpl\n' >"$T/three/kintsugi.yaml"
printf 'Subject: x\n\nHello {{shop\n' >"$T/three/tpl/follow_up.txt"
printf 'Subject: x\n\nA }} b\n' >"$T/three/tpl/incident.txt"
printf 'Subject: x\n\n{{bogus}}\n' >"$T/three/tpl/order_delay.txt"
printf 'Subject: x\n\nHello {{order}}\n' >"$T/three/tpl/customer-notice.txt"
printf 'Subject: x\n\n{{' >"$T/three/tpl/update.txt~"
check templates_every_problem_exits_2 exit_is 2 "$K" check-config "$T/three/kintsugi.yaml"
"$K" check-config "$T/three/kintsugi.yaml" 2>"$T/three.err"
check templates_every_problem_one_line_each bash -c "[ \$(wc -l <$T/three.err) = 4 ] && [ \$(grep -c '^$T/three/kintsugi.yaml:2: key \"messages.templates\": $T/three/tpl/' $T/three.err) = 4 ]"
check templates_every_broken_one bash -c "grep -qF 'tpl/follow_up.txt:3: unclosed or malformed placeholder \"{{shop\"' $T/three.err && grep -qF 'tpl/incident.txt:3: \"}}\" without an opening \"{{\"' $T/three.err && grep -qF 'tpl/order_delay.txt:3: unknown placeholder {{bogus}}' $T/three.err"
check templates_misspelled_file_reported grep -qF "tpl/customer-notice.txt: not a template: known ones are incident, update, reminder, customer_notice, follow_up and order_delay, each NAME.txt or NAME.md (did you mean customer_notice.txt?)" "$T/three.err"
check templates_backup_not_read bash -c "! grep -q 'update.txt~' $T/three.err"
check templates_every_problem_json bash -c "$K check-config --json $T/three/kintsugi.yaml | jq -e '.valid == false and (.errors | length) == 4 and all(.errors[]; .line == 2 and .key == \"messages.templates\")'"
# A relative path is read from the configuration file's directory: the same file
# says the same from its own directory and from anywhere else.
KA=$(realpath "$K")
mkdir -p "$T/rel/conf/tpl" "$T/rel/conf/out" "$T/rel/elsewhere"
printf 'receivers:\n  box: {dir: out}\nnotify: {team: [box]}\nmessages:\n  templates: tpl\n' >"$T/rel/conf/kintsugi.yaml"
printf 'Subject: x\n\nHello {{name}}\n' >"$T/rel/conf/tpl/customer_notice.txt"
check templates_relative_broken_from_its_dir bash -c "cd $T/rel/conf && $KA check-config kintsugi.yaml 2>&1 | grep -qxF 'kintsugi.yaml:5: key \"messages.templates\": tpl/customer_notice.txt:3: unknown placeholder {{name}} for the customer_notice template (see docs/MESSAGES.md)'"
check templates_relative_broken_from_elsewhere bash -c "cd $T/rel/elsewhere && $KA check-config ../conf/kintsugi.yaml 2>&1 | grep -qxF '../conf/kintsugi.yaml:5: key \"messages.templates\": ../conf/tpl/customer_notice.txt:3: unknown placeholder {{name}} for the customer_notice template (see docs/MESSAGES.md)'"
check templates_relative_broken_from_root bash -c "cd / && ! $KA check-config $T/rel/conf/kintsugi.yaml >/dev/null 2>&1"
printf 'Subject: x\n\nHello {{order}}\n' >"$T/rel/conf/tpl/customer_notice.txt"
check templates_relative_ok_from_elsewhere bash -c "cd $T/rel/elsewhere && $KA check-config ../conf/kintsugi.yaml"
check relative_receiver_dir_from_the_files_dir bash -c "cd $T/rel/elsewhere && $KA ingest --config ../conf/kintsugi.yaml --db $T/rel/r.db $PWD/$SC/zero_spike_p1/events.ndjson >/dev/null 2>&1 && ls $T/rel/conf/out/ks-*.json >/dev/null"

# Two threads (the intake decodes ahead) and one give the same database: a
# simulated day with every fault, with a few broken lines mixed in, is far
# above the size at which the second thread starts.
"$K" simulate --seed 5 --duration 18h --skus 300 --fault all --out "$T/day.ndjson" 2>/dev/null
awk 'NR % 5000 == 0 { print "{\"type\":\"inventory\",\"ts\":\"nope\"}" } { print }' "$T/day.ndjson" >"$T/daybad.ndjson"
check intake_input_is_large [ "$(wc -c <"$T/daybad.ndjson")" -gt 1048576 ]
check intake_one_thread bash -c "KINTSUGI_INTAKE_THREADS=1 $K ingest --db $T/t1.db $T/daybad.ndjson >/dev/null 2>&1"
check intake_two_threads bash -c "KINTSUGI_INTAKE_THREADS=2 $K ingest --db $T/t2.db $T/daybad.ndjson >/dev/null 2>&1"
check intake_same_incidents bash -c "cmp <($K incidents --db $T/t1.db --json) <($K incidents --db $T/t2.db --json) && [ \$($K incidents --db $T/t1.db --json | grep -o '\"id\":' | wc -l) -ge 5 ]"
nowall() { sed -E 's/"received_at":"[^"]*"//g'; } # the wall clock of the ingest
export -f nowall
check intake_same_dead_letters bash -c "cmp <($K deadletters --db $T/t1.db --json | nowall) <($K deadletters --db $T/t2.db --json | nowall) && [ \$($K deadletters --db $T/t1.db --json | grep -o '\"line\":' | wc -l) -ge 5 ]"

# --- a hook call that gave up, made again by hand ------------------------------------------
# An OMS outage: stop_order_import is a command that fails (no retries),
# hold_orders and extend_handling_time have no hook.
printf 'hooks:\n  stop_order_import: {command: "cat >/dev/null; echo the OMS refused >&2; exit 3", retries: 0}\n' >"$T/hk.yaml"
"$K" ingest --config "$T/hk.yaml" --db "$T/hk.db" "$SC/ack_meets_sla/events.ndjson" >"$T/hk.out" 2>&1
check ingest_says_how_to_retry_a_hook grep -qx "hook calls that gave up: kintsugi hooks --status failed --db $T/hk.db; once the other system is back, kintsugi hooks retry KEY --db $T/hk.db" "$T/hk.out"
HK=$("$K" hooks --json --status failed --db "$T/hk.db" | jq -r '.[0].key')
HOLD=$("$K" hooks --json --status unconfigured --db "$T/hk.db" | jq -r 'map(select(.action == "hold_orders"))[0].key')
HINC=$("$K" hooks --json --status failed --db "$T/hk.db" | jq -r '.[0].incident')
check hook_failed_for_good bash -c "[ -n '$HK' ] && [ '$HK' != null ] && [ -n '$HOLD' ] && [ '$HOLD' != null ]"
# An automated step kintsugi could not do (its hook gave up, or has none) is
# left to a person: shown as waiting for them, in JSON and in text.
step_is() { # STEP STATUS BY: the step of incident HINC in hk.db
    "$K" incident show "$HINC" --json --db "$T/hk.db" |
        jq -e --arg s "$1" --arg st "$2" --arg by "$3" '.checklist[] | select(.step == $s) | .status == $st and (.by // "-") == $by' >/dev/null
}
check step_left_when_its_hook_gave_up step_is stop_order_import left_to_person -
check step_left_when_its_hook_is_not_configured step_is hold_orders left_to_person -
check step_left_in_text bash -c "$K incident show $HINC --db $T/hk.db | grep -q '^  \[!\] contain  hold_orders .* - left_to_person (kintsugi could not do it: do it by hand, then tick it)\$'"
# An approved action whose hook is not configured is left to a person too:
# the approval says so (not "carried out"), the step waits for a person, who
# ticks it done (any responder: the approval was given); with a hook, it is
# carried out.
cat >"$T/ap.ndjson" <<'EOF'
{"type":"health","ts":"2026-11-22T10:00:00Z","system":"wms","location":"east","status":"up"}
{"type":"health","ts":"2026-11-22T10:00:00Z","system":"wms","location":"west","status":"down"}
{"type":"health","ts":"2026-11-22T10:03:00Z","system":"wms","location":"east","status":"up"}
{"type":"health","ts":"2026-11-22T10:06:00Z","system":"wms","location":"east","status":"up"}
EOF
printf 'people:\n  alice: {role: lead}\n  bob: {role: responder}\nroles:\n  lead: {approve: [reroute_orders]}\n  responder: {}\n' >"$T/ap.yaml"
{ cat "$T/ap.yaml"; printf 'hooks:\n  reroute_orders: {command: "cat >/dev/null", retries: 0}\n'; } >"$T/aph.yaml"
"$K" ingest --config "$T/ap.yaml" --db "$T/ap.db" "$T/ap.ndjson" >/dev/null 2>&1
cp "$T/ap.db" "$T/aph.db"
ap_step() { # DB STATUS BY
    "$K" incident show 1 --json --db "$1" | jq -e --arg st "$2" --arg by "$3" '.checklist[] | select(.step == "reroute_orders") | .status == $st and (.by // "-") == $by and .at == "2026-11-22T10:06:00.000Z"' >/dev/null
}
check approved_unconfigured_says_left bash -c "$K action approve 1 reroute_orders --by alice --config $T/ap.yaml --db $T/ap.db | grep -qx 'incident 1: reroute_orders approved by alice, but kintsugi could not carry it out (no hook is configured for it; the timeline says why): do it by hand, then tick it: kintsugi incident step 1 reroute_orders done --by NAME'"
check approved_unconfigured_step_left ap_step "$T/ap.db" left_to_person -
check approved_unconfigured_listed bash -c "$K action list --config $T/ap.yaml --db $T/ap.db | grep -q '^1 *reroute_orders *left_to_person '"
check approved_left_ticked_by_a_responder bash -c "$K incident step 1 reroute_orders done --by bob --note 'rerouted in the OMS' --config $T/ap.yaml --db $T/ap.db >/dev/null"
check approved_left_then_done_by_bob bash -c "$K incident show 1 --json --db $T/ap.db | jq -e '.checklist[] | select(.step == \"reroute_orders\") | .status == \"done\" and .by == \"bob\"' >/dev/null"
check approved_done_not_ticked_again bash -c "! $K incident step 1 reroute_orders done --by bob --config $T/ap.yaml --db $T/ap.db 2>/dev/null"
check approved_with_hook_carried_out bash -c "$K action approve 1 reroute_orders --by alice --config $T/aph.yaml --db $T/aph.db | grep -qx 'incident 1: reroute_orders approved by alice and carried out'"
check approved_with_hook_step_done ap_step "$T/aph.db" done alice
# A person's --at after the engine clock moves it, and the timers due
# meanwhile fire: the command says so on stderr, with what fired.
printf '%s\n' '{"type":"health","ts":"2026-11-22T10:00:00Z","system":"oms","status":"up"}' '{"type":"health","ts":"2026-11-22T10:01:00Z","system":"oms","status":"down"}' '{"type":"health","ts":"2026-11-22T10:07:00Z","system":"wms","location":"east","status":"up"}' >"$T/cm.ndjson"
"$K" ingest --db "$T/cm.db" "$T/cm.ndjson" >/dev/null 2>&1
check at_later_nothing_fired bash -c "$K incident note 1 x --by a --at 2026-11-22T10:08:00Z --db $T/cm.db 2>&1 >/dev/null | grep -qx 'kintsugi: note: --at moved the engine clock from 2026-11-22T10:07:00.000Z to 2026-11-22T10:08:00.000Z; no timer due meanwhile opened or raised an incident'"
check at_later_says_what_fired bash -c "$K incident note 1 looking --by a --at 2026-11-22T10:30:00Z --db $T/cm.db 2>&1 >/dev/null | grep -qx 'kintsugi: note: --at moved the engine clock from 2026-11-22T10:08:00.000Z to 2026-11-22T10:30:00.000Z, and the timers due meanwhile fired: 1 incident opened, 2 escalations (kintsugi incidents)'"
check at_later_opened_it bash -c "[ \$($K incidents --db $T/cm.db --json | jq length) -eq 2 ]"
check at_now_says_nothing bash -c "[ -z \"\$($K incident note 1 again --by a --db $T/cm.db 2>&1 >/dev/null)\" ]"
check hooks_list_shows_keys bash -c "$K hooks --db $T/hk.db | grep -q '^INCIDENT .* KEY .*LAST RESULT' && $K hooks --db $T/hk.db | grep -q ' $HK '"
check hook_retry_fails_again bash -c "$K hooks retry $HK --by rob --config $T/hk.yaml --db $T/hk.db | grep -q 'hooks: 0 delivered, 1 failed for good'"
printf 'hooks:\n  stop_order_import: {command: "cat >/dev/null", retries: 0}\n' >"$T/hk.yaml"
check hook_retry_by_hand bash -c "$K hooks retry $HK --by rob --config $T/hk.yaml --db $T/hk.db | grep -q 'hooks: 1 delivered'"
check hook_retry_row_done bash -c "$K hooks --json --db $T/hk.db | jq -e --arg k $HK 'map(select(.key == \$k))[0] | .status == \"done\" and .attempts == 1'"
check hook_retry_timeline bash -c "$K incident show $HINC --json --db $T/hk.db | jq -e --arg k $HK '[.timeline[].text] | (map(select(. == \"Hook stop_order_import (key \" + \$k + \") made again by hand by rob\")) | length == 2) and (map(select(startswith(\"Hook stop_order_import gave up after 1 attempts (exit 3\"))) | length == 2) and (map(select(startswith(\"Hook stop_order_import attempt 1: ok\"))) | length == 1)'"
# the call made again went through: kintsugi's record again, not a person's
check step_done_by_kintsugi_after_the_retry step_is stop_order_import done kintsugi
check step_done_by_kintsugi_not_ticked exit_is 1 "$K" incident step "$HINC" stop_order_import done --by ann --db "$T/hk.db"
check step_left_ticked_done bash -c "$K incident step $HINC hold_orders done --by ann --note 'held in the OMS' --db $T/hk.db | grep -qx 'incident $HINC: step hold_orders done by ann'"
check step_left_ticked_skip "$K" incident step "$HINC" extend_handling_time skip --by ann --note 'no promise to change' --db "$T/hk.db"
check step_left_tick_recorded bash -c "$K incident show $HINC --json --db $T/hk.db | jq -e '(.checklist | map(select(.step == \"hold_orders\" or .step == \"extend_handling_time\")) | map([.status, .by]) == [[\"done\", \"ann\"], [\"skipped\", \"ann\"]]) and ([.timeline[] | select(.actor == \"ann\") | .text] == [\"Step hold_orders done by ann: held in the OMS\", \"Step extend_handling_time skipped by ann: no promise to change\"])' >/dev/null"
check hook_retry_done_exits_1 exit_is 1 "$K" hooks retry "$HK" --config "$T/hk.yaml" --db "$T/hk.db"
check hook_retry_done_says_why bash -c "$K hooks retry $HK --config $T/hk.yaml --db $T/hk.db 2>&1 | grep -q 'is done, not failed'"
check hook_retry_unconfigured_refused bash -c "$K hooks retry $HOLD --config $T/hk.yaml --db $T/hk.db 2>&1 | grep -q 'no hook is configured for hold_orders: add one under hooks: in kintsugi.yaml'"
check hook_retry_unknown_exits_1 exit_is 1 "$K" hooks retry kintsugi-0-nothing-0 --config "$T/hk.yaml" --db "$T/hk.db"
check hook_retry_without_key_exits_2 exit_is 2 "$K" hooks retry --db "$T/hk.db"
check hooks_of_one_incident bash -c "[ \"\$($K hooks --json --incident $HINC --db $T/hk.db | jq -c 'map(.incident) | unique')\" = '[$HINC]' ] && $K hooks --incident 999 --db $T/hk.db | grep -qx '(no hook calls)'"

# --- the demo ---------------------------------------------------------------------------
# --force replaces only a database the demo made (it leaves its mark in it),
# never another file that has the name: a text file, a database of kintsugi's.
echo 'not a database' >"$T/prod.db"
check demo_force_refuses_a_text_file exit_is 2 "$K" demo --db "$T/prod.db" --force --no-serve
check demo_force_says_why bash -c "$K demo --db $T/prod.db --force --no-serve 2>&1 | grep -qxF 'kintsugi: $T/prod.db is not a kintsugi demo database (not an SQLite database): --force replaces only a database the demo made; remove it yourself if it may go, or choose another --db'"
check demo_force_leaves_the_file is 'not a database' "$(cat "$T/prod.db")"
cp "$T/a.db" "$T/real.db"
check demo_force_refuses_a_kintsugi_db exit_is 2 "$K" demo --db "$T/real.db" --force --no-serve
check demo_force_refuses_a_kintsugi_db_says_why bash -c "$K demo --db $T/real.db --force --no-serve 2>&1 | grep -qF '(an SQLite database the demo did not make)'"
check demo_force_leaves_the_db cmp "$T/a.db" "$T/real.db"
check demo_makes_its_db "$K" demo --db "$T/demo.db" --no-serve
check demo_force_replaces_a_demo_db bash -c "$K demo --db $T/demo.db --force --no-serve >$T/demo.out 2>&1"
# What the demo says to run next runs as printed: the commands that act name
# the demo's configuration, where "you" is a person who may approve.
demo_next() {
    local line n=0
    while read -r line; do
        n=$((n + 1))
        # shellcheck disable=SC2086 # the words of the printed command
        "$K" ${line#kintsugi } >/dev/null 2>"$T/next.err" || { echo "$line"; cat "$T/next.err"; return 1; }
    done < <(sed -n '/^what to run next:/,/^$/p' "$T/demo.out" | grep '^  kintsugi ' | sed 's/^  //; s/  *(.*//')
    [ "$n" -ge 8 ] && grep -q '^  kintsugi action approve .* --by you --db .* --config ' "$T/demo.out"
}
check demo_next_steps_run_as_printed demo_next
check demo_help_says_its_exit_status bash -c "$K demo --help | grep -q '^exit status: 0 every expected incident detected' && ! $K demo --help | grep -q 'nothing found by that name'"

# --- a database this user may read but not write -------------------------------------
# Another user's database, a read-only mount, a copy kept for an investigation:
# every reading command works, a write says why it cannot. As root, the
# commands run as nobody (root may write anything); the binary is copied
# where nobody may run it.
RO=$T/ro
mkdir -p "$RO/db" "$RO/bin"
cp "$K" "$RO/bin/kintsugi"
"$K" ingest --quiet --db "$RO/db/k.db" "$SC/zero_spike_p1/events.ndjson" >/dev/null 2>&1
chmod 755 "$T" "$RO" "$RO/bin"
chmod 444 "$RO/db/k.db"
chmod 555 "$RO/db"
as_reader() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=65534 --regid=65534 --clear-groups "$RO/bin/kintsugi" "$@"
    else
        "$RO/bin/kintsugi" "$@"
    fi
}
check readonly_db_has_no_log [ ! -e "$RO/db/k.db-wal" ]
check readonly_incidents_are_read bash -o pipefail -c "$(declare -f as_reader); RO=$RO; as_reader incidents --json --db $RO/db/k.db | jq -e 'length == 1 and .[0].type == \"data_corruption\" and .[0].severity == \"P1\"'"
check readonly_every_reading_command bash -c "$(declare -f as_reader); RO=$RO; for c in 'incident show 1' deadletters 'guard status' report hooks messages 'feed amazon' 'action list'; do as_reader \$c --db $RO/db/k.db >/dev/null || { echo \"\$c failed\"; exit 1; }; done"
check readonly_write_says_why bash -c "$(declare -f as_reader); RO=$RO; as_reader incident ack 1 --by alice --db $RO/db/k.db 2>&1 | grep -q 'the database is read-only to this user (file or folder not writable): kintsugi reads it but cannot change it'"
check readonly_write_exits_1 bash -c "$(declare -f as_reader); RO=$RO; as_reader incident ack 1 --by alice --db $RO/db/k.db >/dev/null 2>&1; [ \$? -eq 1 ]"
check readonly_db_unchanged bash -o pipefail -c "[ ! -e $RO/db/k.db-wal ] && $K incident show 1 --json --db $RO/db/k.db | jq -e '.acknowledged_at == null'"
chmod -R u+w "$RO"

echo "RESULT passed=$passed failed=$failed"
