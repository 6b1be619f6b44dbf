#!/usr/bin/env bash
# The guard through the CLI: held updates survive kill -9, release in order,
# rollback, feed cursors, approvals by role. Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"
json_held() { # db channel -> held count
    "$K" guard status --db "$1" --json | grep -o "\"channel\":\"$2\",\"paused\":[a-z]*,\"held\":[0-9]*" | grep -o '[0-9]*$'
}

ev=$SC/contain_corruption_holds_and_zeroes/events.ndjson
check ingest_corruption "$K" ingest --db "$T/g.db" "$ev"
check all_channels_paused bash -c "[ \$($K guard status --db $T/g.db --json | grep -o '\"paused\":true' | wc -l) -eq 2 ]"
check held_counts bash -c "[ \"\$($K guard status --db $T/g.db --json | grep -o '\"held\":[0-9]*' | tr '\n' ' ')\" = '\"held\":60 \"held\":5 ' ]"
check risen_sku_zero bash -c "$K feed amazon --state --json --db $T/g.db | grep -q '{\"sku\":\"S08\",\"qty\":0,\"last_good\":18}'"
check fallen_sku_at_last_good bash -c "$K feed amazon --state --json --db $T/g.db | grep -q '{\"sku\":\"S00\",\"qty\":10,\"last_good\":10}'"

# A long ingest of more held updates, killed -9 in the middle: what was committed stays
# whole, held updates keep their order, nothing half-applied.
awk 'BEGIN { for (i = 0; i < 400000; i++)
  printf "{\"type\":\"inventory\",\"ts\":\"2026-11-22T11:%02d:%02d.%03dZ\",\"channel\":\"ebay\",\"sku\":\"S%02d\",\"qty\":%d,\"batch\":\"big-%d\"}\n", int(i/60000)%60, int(i/1000)%60, i%1000, i%30, 10 + i%30, int(i/30) }' >"$T/big.ndjson"
cp "$T/g.db" "$T/k.db"
cp "$T/g.db" "$T/u.db"
check uninterrupted_big "$K" ingest --quiet --db "$T/u.db" "$T/big.ndjson"
# A checkpoint with every chunk, so that the kill falls between two of them.
KINTSUGI_CHECKPOINT_EVERY=0 "$K" ingest --quiet --db "$T/k.db" "$T/big.ndjson" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    h=$(json_held "$T/k.db" ebay 2>/dev/null)
    [ -n "$h" ] && [ "$h" -gt 5 ] && break
    sleep 0.1
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
ended=$? # 0: the ingest ended on its own before the kill (a fast machine)
held=$(json_held "$T/k.db" ebay)
check kill9_state_readable [ -n "$held" ]
check kill9_kept_earlier_holds [ "${held:-0}" -ge 5 ]
# Killed: whole updates of 30 only. Ended first, or killed after its last save (while
# it exits, on a fast machine): the end of the input closed the last update (10
# lines), as in the uninterrupted run.
whole=$(json_held "$T/u.db" ebay)
if [ "$ended" -eq 0 ]; then
    check kill9_holds_whole_chunks [ "${held:-0}" = "$whole" ]
else
    check kill9_holds_whole_chunks bash -c "[ \$(( (${held:-0} - 5) % 30 )) -eq 0 ] || [ '${held:-0}' = '$whole' ] || { echo '    held ${held:-0}, uninterrupted $whole'; false; }"
fi
check kill9_amazon_untouched [ "$(json_held "$T/k.db" amazon)" = 60 ]
# Running the same ingest again resumes after the last saved line: the guard ends as
# after an uninterrupted run, the feed too.
cp "$T/k.db" "$T/r.db"
check resume_after_kill9 "$K" ingest --quiet --db "$T/r.db" "$T/big.ndjson"
check resumed_guard_same bash -c "cmp <($K guard status --json --db $T/u.db) <($K guard status --json --db $T/r.db)"
check resumed_feed_same bash -c "cmp <($K feed ebay --json --db $T/u.db) <($K feed ebay --json --db $T/r.db)"
check resumed_incidents_same bash -c "cmp <($K incidents --json --db $T/u.db) <($K incidents --json --db $T/r.db)"
check rollback_after_kill9 "$K" guard rollback 1 --by alice --db "$T/k.db"
check release_after_kill9 "$K" guard release --all --by alice --db "$T/k.db"
check released_in_order bash -c "$K feed ebay --since 30 --db $T/k.db --json | grep -o '\"seq\":[0-9]*' | grep -o '[0-9]*' | awk 'NR > 1 && \$1 != prev + 1 { exit 1 } { prev = \$1 }'"
check release_count bash -c "[ \$($K feed ebay --since 30 --db $T/k.db --json | grep -o '\"why\":\"release\"' | wc -l) -le $held ]"
check nothing_held_after_release bash -c "[ \$($K guard status --db $T/k.db --json | grep -o '\"held\":0' | wc -l) -eq 2 ]"

# --- people's commands ------------------------------------------------------------------
check release_refused_before_rollback exit_is 1 "$K" guard release amazon --by alice --db "$T/g.db"
check release_needs_by exit_is 2 "$K" guard release --all --db "$T/g.db"
check pause_of_a_paused_channel_says_nothing_changed bash -c "$K guard pause amazon --by alice --db $T/g.db | grep -q '^guard pause amazon: already paused since .*; nothing changed\$'"
check release_after_kill9_again_says_not_paused bash -c "$K guard release ebay --by alice --db $T/k.db | grep -qx 'guard release ebay: not paused; nothing changed'"
check rollback_dry_run bash -c "$K guard rollback 1 --dry-run --db $T/g.db | grep -q '(dry run) 60 held corrupt values discarded'"
check dry_run_changed_nothing bash -c "[ \"\$($K guard status --db $T/g.db --json | grep -o '\"held\":60')\" = '\"held\":60' ]"
check rollback_of_unknown_incident exit_is 1 "$K" guard rollback 9 --by alice --db "$T/g.db"
check feed_of_unknown_channel exit_is 1 "$K" feed nowhere --state --db "$T/g.db"
check feed_past_its_end exit_is 1 "$K" feed amazon --since 999999 --db "$T/g.db"
check checklist_in_show bash -c "$K incident show 1 --db $T/g.db --json | grep -q '\"checklist\":\\[{\"step\":\"pause_all\",\"phase\":\"contain\",\"kind\":\"automated\",\"status\":\"done\"'"
check step_done bash -c "$K incident step 1 reconcile_all done --by bob --note checked --db $T/g.db | grep -qx 'incident 1: step reconcile_all done by bob'"
# ticking it again records nothing: one timeline entry, and the refusal names who ticked it
check step_again_refused exit_is 1 "$K" incident step 1 reconcile_all done --by carol --db "$T/g.db"
check step_again_says_who bash -c "$K incident step 1 reconcile_all done --by carol --db $T/g.db 2>&1 | grep -q 'step reconcile_all is already done (by bob at .*); nothing recorded'"
check step_again_records_nothing bash -c "[ \"\$($K incident show 1 --db $T/g.db --json | jq '[.timeline[] | select(.text | startswith(\"Step reconcile_all\"))] | length')\" = 1 ]"
check step_done_then_skipped bash -c "$K incident step 1 reconcile_all skip --by carol --db $T/g.db && $K incident step 1 reconcile_all done --by bob --db $T/g.db"
check automated_step_is_kintsugis exit_is 1 "$K" incident step 1 lineage skip --by bob --db "$T/g.db"
check automated_step_record_stays bash -c "$K incident show 1 --db $T/g.db --json | grep -q '{\"step\":\"lineage\",\"phase\":\"diagnose\",\"kind\":\"automated\",\"status\":\"done\",\"by\":\"kintsugi\"'"
check at_beyond_horizon_refused exit_is 2 "$K" incident note 1 typo --by bob --at 2062-11-22T00:00:00Z --db "$T/g.db"
check at_beyond_horizon_opened_nothing bash -c "[ \"\$($K incidents --db $T/g.db --json | jq length)\" = 1 ]"
check unknown_step exit_is 1 "$K" incident step 1 nonsense done --by bob --db "$T/g.db"
check verify_lists_spot_check bash -c "$K incident verify 1 --json --db $T/g.db | grep -q '\"spot_check\":\\[{\"channel\":\"amazon\"'"
check verify_text_form bash -c "$K incident verify 1 --db $T/g.db | grep -q '^oversold orders in the window: 1, 250.00 in value'"
check verify_lists_oversold_orders bash -c "$K incident verify 1 --json --db $T/g.db | grep -q '\"oversold_orders\":\\[{\"order_id\":\"O-1\",\"customer\":\"c-1\",\"channel\":\"amazon\",\"at\":\"2026-11-22T10:18:00.000Z\",\"value\":250.0}\\],\"oversold_value\":250.0'"
check reconcile_json bash -c "$K reconcile --json --db $T/g.db | grep -q '\"oversell_risks\":0'"

# --- per-SKU holding: a zero spike whose importer keeps sending four of the zeros in an
# update that crosses no threshold; the rest of the input comes in a second ingest.
zk=$SC/contain_corruption_zero_source_keeps_sending/events.ndjson
head -n 123 "$zk" >"$T/zk1.ndjson"
tail -n +124 "$zk" >"$T/zk2.ndjson"
check zk_ingest "$K" ingest --db "$T/z.db" "$T/zk1.ndjson"
check zk_held_per_sku_json bash -c "$K guard status --json --db $T/z.db | grep -q '\"held_skus\":4,\"held_values\":\[{\"sku\":\"SKU-0001\",\"held\":0,\"last_good\":10}'"
check zk_rollback_report bash -c "$K guard rollback 1 --by alice --db $T/z.db | grep -q '4 values held per SKU stay at their last known good quantity'"
check zk_release "$K" guard release --all --by alice --db "$T/z.db"
check zk_no_zero_reached_the_channel bash -c "! $K feed amazon --since 0 --json --db $T/z.db | grep -q '\"qty\":0'"
check zk_status_text_lists_held bash -c "$K guard status --db $T/z.db | grep -q '^  amazon  *SKU-0002  *0  *10\$'"
check zk_second_ingest "$K" ingest --db "$T/z.db" "$T/zk2.ndjson"
check zk_clean_value_through bash -c "$K feed amazon --state --json --db $T/z.db | grep -q '{\"sku\":\"SKU-0001\",\"qty\":8,\"last_good\":8}'"
check zk_still_held_across_ingests bash -c "$K feed amazon --state --json --db $T/z.db | grep -q '{\"sku\":\"SKU-0002\",\"qty\":10,\"last_good\":10}'"
check zk_accept "$K" guard accept 1 --by alice --db "$T/z.db"
check zk_accepted_values bash -c "$K feed amazon --state --json --db $T/z.db | grep -q '{\"sku\":\"SKU-0002\",\"qty\":0,\"last_good\":0}'"
check zk_nothing_held_after_accept bash -c "$K guard status --json --db $T/z.db | grep -q '\"held_skus\":0,\"held_values\":\[\]'"

st=$SC/contain_stale_channel
check stale_ingest "$K" ingest --config "$st/config.yaml" --db "$T/s.db" "$st/events.ndjson"
check proposed_listed bash -c "$K action list --db $T/s.db --json | grep -q '\"action\":\"zero_channel\",\"step\":\"zero_channel\",\"status\":\"proposed\"'"
check approve_refused_for_role exit_is 1 "$K" action approve 1 zero_channel --by bob --config "$st/config.yaml" --db "$T/s.db"
# A proposal not to carry out is declined by skipping its step, with why: it
# is no longer approvable (on a copy: the approval below goes on).
cp "$T/s.db" "$T/sd.db"
check decline_needs_why exit_is 2 "$K" incident step 1 zero_channel skip --by alice --config "$st/config.yaml" --db "$T/sd.db"
check decline_needs_the_right bash -c "$K incident step 1 zero_channel skip --note 'not now' --by bob --config $st/config.yaml --db $T/sd.db 2>$T/dn.err; rc=\$?; [ \$rc -eq 1 ] && [ \"\$(cat $T/dn.err)\" = \"kintsugi: bob (role agent) may not decline 'zero_channel': who may approve it may decline it\" ]"
check proposal_declined_by_skip "$K" incident step 1 zero_channel skip --note 'the sync is back' --by alice --config "$st/config.yaml" --db "$T/sd.db"
check declined_proposal_listed bash -c "$K action list --json --db $T/sd.db | jq -e '.[0] | [.status, .by, .what] == [\"skipped\", \"alice\", \"the sync is back\"]'"
check declined_proposal_not_approved exit_is 1 "$K" action approve 1 zero_channel --by alice --config "$st/config.yaml" --db "$T/sd.db"
check declined_proposal_zeroes_nothing bash -o pipefail -c "$K feed amazon --state --json --db $T/sd.db | jq -e '.skus[] | select(.sku == \"S09\") | [.qty, .last_good] == [10, 10]'"
check approve_by_lead "$K" action approve 1 zero_channel --by alice --config "$st/config.yaml" --db "$T/s.db"
check zeroed_on_feed bash -c "$K feed amazon --state --json --db $T/s.db | grep -q '{\"sku\":\"S09\",\"qty\":0'"
check hook_queued bash -c "$K incident show 1 --db $T/s.db --json | grep -q 'Hook zero_channel requested'"
# The zeroing stands while the sync still fails: an update closed by a failed sync does
# not put the quantities back; the next ok sync does.
last=$(tail -1 "$st/events.ndjson" | jq -r .ts)
at() { python3 -c "import datetime, sys; t = datetime.datetime.fromisoformat(sys.argv[1].replace('Z', '+00:00')) + datetime.timedelta(minutes=int(sys.argv[2])); print(t.strftime('%Y-%m-%dT%H:%M:%S.000Z'))" "$last" "$1"; }
printf '{"type":"inventory","ts":"%s","channel":"amazon","sku":"S09","qty":30,"batch":"z2"}\n{"type":"sync","ts":"%s","channel":"amazon","status":"error","error":"api","batch":"z2"}\n' "$(at 1)" "$(at 2)" >"$T/s2.ndjson"
"$K" ingest --config "$st/config.yaml" --db "$T/s.db" "$T/s2.ndjson" >/dev/null 2>&1
check zeroed_stays_while_stale bash -c "$K feed amazon --state --json --db $T/s.db | grep -q '{\"sku\":\"S09\",\"qty\":0'"
printf '{"type":"sync","ts":"%s","channel":"amazon","status":"ok"}\n' "$(at 3)" >"$T/s3.ndjson"
"$K" ingest --config "$st/config.yaml" --db "$T/s.db" "$T/s3.ndjson" >/dev/null 2>&1
check ok_sync_gives_them_back bash -c "$K feed amazon --state --json --db $T/s.db | grep -q '{\"sku\":\"S09\",\"qty\":30'"

# --- the demo's walkthrough: two corruptions (walmart, ebay); release --all after only
# the first rollback lets the other channels go, says which, and names what it refused.
"$K" demo --no-serve --db "$T/dm.db" >"$T/dm.out" 2>&1
check demo_lists_every_rollback bash -c "grep -c '^  kintsugi guard rollback [0-9]* --by you' $T/dm.out | grep -qx 2"
"$K" guard rollback 3 --by you --db "$T/dm.db" >/dev/null
"$K" guard release --all --by you --db "$T/dm.db" >"$T/rel.out" 2>"$T/rel.err"
check release_all_partial_exit_1 [ $? -eq 1 ]
check release_all_says_what_went grep -qx 'released: amazon, shopify, walmart' "$T/rel.out"
check release_all_names_the_refused grep -q 'ebay holds values of the corrupt update of incident 4' "$T/rel.err"

echo "RESULT passed=$passed failed=$failed"
