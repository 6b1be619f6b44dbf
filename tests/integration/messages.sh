#!/usr/bin/env bash
# Messages end to end (the SMTP server runs on Debian's python3, which has
# python3-aiosmtpd) (docs/MESSAGES.md): the customer-notice trigger at its
# threshold exactly (50 customers: nothing, 51: a notice per affected order
# with an e-mail), delivered to a real SMTP server (aiosmtpd) and parsed as
# MIME; a local webhook that answers 503, then 429 with Retry-After, then
# 202 (exactly 3 attempts, one key); the file outbox; the P1 core team and
# leadership in event time; templates with every placeholder and a broken
# one refused by check-config with its file and line; kill -9 during
# delivery loses nothing and doubles nothing for a receiver honouring the
# key; a receiver that is down costs one attempt, the other messages held
# behind its retry; an order cancelled by an event naming only the order is
# told at the e-mail the order gave, and an incident whose affected orders
# carried none says nobody could be told (and the report does not count it).
# Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"
# Servers here are stopped hard to show the journal re-applied: none saves its
# state on a quiet spell (which would leave no journal to re-apply).
export KINTSUGI_CHECKPOINT_IDLE=0
. "$(dirname "$0")/serve_lib.bash" # PIDS killed on exit, start

# N orders at a warehouse whose WMS went down; value each; minutes of event time after.
gen() { outage_orders "$1" "$2" "$3" 6of7; } # N VALUE MINUTES (lib.bash)

# ---- a real SMTP server ------------------------------------------------------------
cat >"$T/smtp.py" <<'EOF'
import asyncio, os, socket, sys, time
from aiosmtpd.controller import Controller
out = sys.argv[1]
class H:
    n = 0
    # every RCPT TO the server is given, delivered or not, one address a line in out/rcpt.log
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with open(os.path.join(out, "rcpt.log"), "a") as f:
            f.write(address + "\n")
        envelope.rcpt_tos.append(address)
        return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        H.n += 1
        with open(os.path.join(out, "%05d.eml" % H.n), "wb") as f:
            f.write(b"X-Rcpt: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.content)
        return "250 OK"
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
c = Controller(H(), hostname="127.0.0.1", port=port)
c.start()
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(port))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
while True:
    time.sleep(3600)
EOF
# ---- a webhook receiver: answers each key from a script of statuses, then 202; logs each call --
cat >"$T/hook.py" <<'EOF'
import http.server, json, sys, os, time
log = open(sys.argv[1], "a")
script = sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else []
delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0
scripts = {}  # each key answers the script once: a receiver honouring the key
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        log.write(json.dumps({"t": time.time(), "key": self.headers.get("Idempotency-Key"),
                              "body": json.loads(body)}) + "\n")
        log.flush()
        time.sleep(delay)
        own = scripts.setdefault(self.headers.get("Idempotency-Key"), list(script))
        code = int(own.pop(0)) if own else 202
        self.send_response(code)
        if code == 429:
            self.send_header("Retry-After", "2")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
s.serve_forever()
EOF
mkdir -p "$T/mail" "$T/outbox"
/usr/bin/python3 "$T/smtp.py" "$T/mail" "$T/smtp.port" & PIDS+=($!)
: >"$T/calls"
python3 "$T/hook.py" "$T/calls" "$T/hook.port" "503,429" & PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/smtp.port" ] && [ -s "$T/hook.port" ] && break; sleep 0.1; done
SPORT=$(cat "$T/smtp.port") HPORT=$(cat "$T/hook.port")
check receivers_up [ -n "$SPORT" -a -n "$HPORT" ]

cat >"$T/kintsugi.yaml" <<EOF
roles:
  manager: {approve: ["*"]}
people:
  olivia: {role: manager, email: olivia@shop.example, team: operations}
  carl: {role: manager, email: carl@shop.example, team: customer_success}
  ivan: {role: manager, email: ivan@shop.example, team: it}
  fiona: {role: manager, email: fiona@shop.example, team: finance}
  lena: {role: manager, email: lena@shop.example, team: leadership}
receivers:
  mail: {smtp: "smtp://127.0.0.1:$SPORT", from: "ops@shop.example", tls: none, timeout: 5s}
  chat: {webhook: "http://127.0.0.1:$HPORT/hooks/ops", slack: true, backoff: 1s, timeout: 5s}
  files: {dir: "$T/outbox"}
notify: {team: [chat], leadership: [mail, files], customer: [mail]}
messages: {shop: "Example Shop"}
EOF
check config_ok "$K" check-config "$T/kintsugi.yaml"

# ---- the threshold: 50 customers nothing, 51 a notice per order with an e-mail ------
gen 50 10 5 >"$T/o50.ndjson"
gen 51 10 5 >"$T/o51.ndjson"
# (the team's webhook answers its script once: this run tells the team through files)
sed 's/team: \[chat\]/team: [files]/' "$T/kintsugi.yaml" >"$T/a50.yaml"
"$K" ingest --quiet --config "$T/a50.yaml" --db "$T/a50.db" "$T/o50.ndjson" >/dev/null 2>&1
count() { "$K" messages --db "$1" --json ${2:+--audience $2} | jq length; }
check fifty_customers_no_notice [ "$(count "$T/a50.db" customer)" = 0 ]
: >"$T/calls"
"$K" ingest --quiet --config "$T/kintsugi.yaml" --db "$T/a51.db" "$T/o51.ndjson" >/dev/null 2>&1
# 51 orders, every 7th without an e-mail: 44 with one
check fiftyone_customers_notices [ "$(count "$T/a51.db" customer)" = 44 ]
# The notice says only what is true: the outage is not contained yet, and the
# next message to the customer is the follow-up, 20 h after this notice.
cbody() { "$K" messages --db "$T/a51.db" --json --audience customer | jq -r '.[0].body'; }
check notice_not_contained_yet bash -c "[ \"\$(grep '^What we are doing' <<<'$(cbody)')\" = 'What we are doing: we are working to contain the problem and on every affected order' ]"
check notice_promises_the_follow_up bash -c "grep -qx 'Next steps: nothing is needed from you; we will write again by 2026-11-23T05:10:50.000Z at the latest' <<<'$(cbody)'"
"$K" messages deliver --wait 20s --config "$T/kintsugi.yaml" --db "$T/a51.db" >/dev/null 2>&1
check smtp_got_each_notice [ "$(ls "$T/mail"/*.eml | wc -l)" = 44 ]
cat >"$T/mime.py" <<'EOF'
import email, glob, sys
seen = set()
for p in sorted(glob.glob(sys.argv[1] + "/*.eml")):
    m = email.message_from_bytes(open(p, "rb").read())
    rcpt = m["X-Rcpt"]
    assert m["To"] == rcpt, (m["To"], rcpt)
    assert m["From"] == "ops@shop.example"
    assert m["Subject"].startswith("About your order o"), m["Subject"]
    order = m["Subject"].split()[3]
    assert rcpt == "c%s@shop.example" % order[1:], (rcpt, order)
    assert m["Idempotency-Key"].startswith("ks-")
    parts = [x for x in m.walk() if x.get_content_type() == "text/plain"]
    assert len(parts) == 1
    text = parts[0].get_payload(decode=True).decode()
    assert "Example Shop" in text and "{{" not in text and "warehouse" in text, text
    seen.add(rcpt)
assert len(seen) == 44, len(seen)
print("ok")
EOF
check smtp_mime_parsed python3 "$T/mime.py" "$T/mail"
check all_customer_sent [ "$("$K" messages --db "$T/a51.db" --json --audience customer --status sent | jq length)" = 44 ]
# the team's webhook: 503, then 429 (Retry-After: 2), then 202 - three attempts, one key
check webhook_three_attempts [ "$("$K" messages --db "$T/a51.db" --json --audience team | jq '.[0].attempts')" = 3 ]
# (two team messages through the webhook: the detection, and PR told with the customer notices)
check webhook_three_calls_a_key [ "$(jq -r .key "$T/calls" | sort | uniq -c | awk '{print $1}' | sort -u)" = 3 -a "$(jq -r .key "$T/calls" | sort -u | wc -l)" = 2 ]
check webhook_key_in_body [ "$(jq -r 'select(.key == .body.idempotency_key) | .key' "$T/calls" | wc -l)" = 6 ]
check webhook_slack_text bash -c "jq -r .body.text '$T/calls' | head -1 | grep -q '^\*\[P2\] Incident #1'"
check retry_after_honoured python3 -c "
import json; c=[json.loads(l) for l in open('$T/calls')]
t=[x['t'] for x in c if x['key'] == c[0]['key']]
assert len(t) == 3 and 0.8 <= t[1]-t[0] < 1.8 and 1.8 <= t[2]-t[1] < 3.5, t"
check json_keys bash -c "$K messages --db $T/a51.db --json | jq -e '.[0] | has(\"id\",\"incident\",\"kind\",\"audience\",\"recipient\",\"receiver\",\"subject\",\"idempotency_key\",\"status\",\"attempts\",\"created_at\",\"sent_at\")'"
check timeline_records_notice bash -c "$K incident show 1 --db $T/a51.db | grep -q 'notification kintsugi   Customer notices: more than 50 customers affected; one per affected order with an e-mail, the first 5m50s after detection'"

# the same events split in two ingests: the same timeline and the same messages (keys)
head -n 30 "$T/o51.ndjson" >"$T/half1.ndjson"
tail -n +31 "$T/o51.ndjson" >"$T/half2.ndjson"
sed 's/team: \[chat\]/team: [files]/' "$T/kintsugi.yaml" >"$T/split.yaml"
"$K" ingest --quiet --no-deliver --config "$T/split.yaml" --db "$T/one.db" "$T/o51.ndjson" >/dev/null 2>&1
"$K" ingest --quiet --no-deliver --config "$T/split.yaml" --db "$T/split.db" "$T/half1.ndjson" >/dev/null 2>&1
"$K" ingest --quiet --no-deliver --config "$T/split.yaml" --db "$T/split.db" "$T/half2.ndjson" >/dev/null 2>&1
check split_same_timeline cmp <("$K" incident show 1 --json --db "$T/one.db") <("$K" incident show 1 --json --db "$T/split.db")
# (the same messages, each database with its keys: a key carries its database's id)
who() { "$K" messages --json --db "$1" | jq -c '.[] | [.incident, .kind, .audience, .recipient, .receiver, .created_at]' | sort; }
check split_same_messages cmp <(who "$T/one.db") <(who "$T/split.db")
check split_other_keys [ -z "$(comm -12 <("$K" messages --json --db "$T/one.db" | jq -r '.[].idempotency_key' | sort -u) <("$K" messages --json --db "$T/split.db" | jq -r '.[].idempotency_key' | sort -u))" ]

# ---- failed for good, on the incident, and retried by hand ---------------------------
: >"$T/fails"
python3 "$T/hook.py" "$T/fails" "$T/fails.port" "500,500" & PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/fails.port" ] && break; sleep 0.1; done
cat >"$T/fails.yaml" <<EOF
receivers:
  chat: {webhook: "http://127.0.0.1:$(cat "$T/fails.port")/f", retries: 1, backoff: 1s}
notify: {team: [chat]}
EOF
"$K" ingest --quiet --config "$T/fails.yaml" --db "$T/f.db" "$T/o50.ndjson" >/dev/null 2>&1
state1() { "$K" messages --db "$T/f.db" --json | jq -r '.[0] | "\(.status) \(.attempts)"'; }
check failed_after_two_attempts [ "$(state1)" = "failed 2" ]
check failure_on_the_incident bash -c "$K incident show 1 --db $T/f.db | grep -q 'Message 1 (incident to team via chat) failed after 2 attempts: attempt 2: HTTP 500'"
check receivers_say_the_failure is '[{"receiver":"chat","kind":"webhook","configured":true,"queued":0,"oldest_queued_at":null,"sent":0,"failed":1,"last_failure":"attempt 2: HTTP 500 Internal Server Error","retrying":null,"next_attempt_at":null}]' "$("$K" messages receivers --json --config "$T/fails.yaml" --db "$T/f.db")"
check messages_of_one_receiver is "1 0" "$("$K" messages --receiver chat --json --db "$T/f.db" | jq length) $("$K" messages --receiver mail --json --db "$T/f.db" | jq length)"
check receivers_table bash -c "$K messages receivers --config $T/fails.yaml --db $T/f.db | grep -Eq '^chat +webhook +0 +- +1 +0 +attempt 2: HTTP 500 Internal Server Error\$'"
# A delivery in which a message fails for good exits 1: a script learns somebody was not told.
printf 'receivers:\n  dead: {webhook: "http://127.0.0.1:1/x", retries: 0, timeout: 2s}\nnotify: {team: [dead]}\n' >"$T/dead.yaml"
"$K" ingest --quiet --no-deliver --config "$T/dead.yaml" --db "$T/dead.db" "$T/o50.ndjson" >/dev/null 2>&1
check deliver_failed_for_good_exits_1 exit_is 1 "$K" messages deliver --config "$T/dead.yaml" --db "$T/dead.db"
check retry_failed_again_exits_1 exit_is 1 "$K" messages retry 1 --config "$T/dead.yaml" --db "$T/dead.db"
"$K" messages retry 1 --config "$T/fails.yaml" --db "$T/f.db" >/dev/null 2>&1
check retry_by_hand [ "$(state1)" = "sent 1" ]
check retry_sent_refused bash -c "$K messages retry 1 --config $T/fails.yaml --db $T/f.db 2>&1 | grep -q 'message 1 is sent, not failed'"
check retry_sent_exits_1 exit_is 1 "$K" messages retry 1 --config "$T/fails.yaml" --db "$T/f.db"
check retry_unknown_id_exits_1 exit_is 1 "$K" messages retry 99 --config "$T/fails.yaml" --db "$T/f.db"
check bad_audience_exits_2 exit_is 2 "$K" messages --audience everyone --db "$T/f.db"

# ---- a receiver down for a while: every failed message queued again in one go ----------
touch "$T/rbox" # a file where the directory should be: every write fails
cat >"$T/rbox.yaml" <<EOF
receivers:
  box: {dir: "$T/rbox", retries: 0}
notify: {team: [box], customer: [box]}
EOF
"$K" ingest --config "$T/rbox.yaml" --db "$T/rb.db" "$T/o51.ndjson" >"$T/rb.out" 2>&1
check ingest_says_how_to_retry_messages grep -qx "failed messages: kintsugi messages receivers --db $T/rb.db says which receiver; once it is fixed, kintsugi messages retry-failed --db $T/rb.db" "$T/rb.out"
check receivers_say_how_to_retry bash -c "$K messages receivers --config $T/rbox.yaml --db $T/rb.db | grep -qx 'once box is fixed: kintsugi messages retry-failed --receiver box'"
cp "$T/rb.db" "$T/rbs.db" # the same outage, for the server below
failed_of() { "$K" messages --status failed ${2:+--audience $2} --json --db "$1" | jq length; }
check bulk_all_failed is "46 44" "$(failed_of "$T/rb.db") $(failed_of "$T/rb.db" customer)"
rm "$T/rbox" && mkdir "$T/rbox" # the receiver is fixed
check bulk_retry_customers bash -c "$K messages retry-failed --receiver box --audience customer --by rob --config $T/rbox.yaml --db $T/rb.db | grep -qx '44 failed messages of 1 incident queued again'"
check bulk_customers_sent is "2 0 44" "$(failed_of "$T/rb.db") $(failed_of "$T/rb.db" customer) $(ls "$T/rbox" | wc -l)"
check bulk_retry_the_rest bash -c "$K messages retry-failed --by ada --config $T/rbox.yaml --db $T/rb.db | grep -qx '2 failed messages of 1 incident queued again'"
check bulk_nothing_left bash -c "$K messages retry-failed --config $T/rbox.yaml --db $T/rb.db | grep -qx 'no failed message to retry'"
check bulk_each_sent_once is "46 46" "$("$K" messages --status sent --json --db "$T/rb.db" | jq '[.[] | select(.attempts == 1)] | length') $(ls "$T/rbox" | wc -l)"
bulk_notes() { "$K" incident show 1 --json --db "$1" | jq -c '[.timeline[] | select(.kind == "note") | [.actor, .text]]'; }
check bulk_notes_on_the_incident is "[[\"rob\",\"44 failed messages via box queued again by hand by rob\"],[\"ada\",\"2 failed messages queued again by hand by ada\"]]" "$(bulk_notes "$T/rb.db")"
check bulk_bad_status_exits_2 exit_is 2 "$K" messages retry-failed --status sent --db "$T/rb.db"

# The same through the server, journaled: after a kill -9 the notes come back
# once and nothing is sent again.
"$K" token create --name rob --role responder --db "$T/rbs.db" >"$T/rb.tok" 2>/dev/null
"$K" token create --name vic --role viewer --db "$T/rbs.db" >"$T/rbv.tok" 2>/dev/null
RB=$(cat "$T/rb.tok") RV=$(cat "$T/rbv.tok")
rm -rf "$T/rbox" && mkdir "$T/rbox"
start rbs "$T/rbs.db" --clock event --config "$T/rbox.yaml"
RBPID=$PID
rpost() { curl -s -o "$T/rb.out" -w '%{http_code}' -X POST -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$2" "$URL/v1/messages/retry"; }
check bulk_api_viewer_403 is 403 "$(rpost "$RV" '{}')"
check bulk_api_bad_fields_400 is "400 400 400" "$(rpost "$RB" '{"receiver":3}') $(rpost "$RB" '{"audience":"all"}') $(rpost "$RB" '{"colour":"red"}')"
check bulk_api_names_the_field grep -q 'field \\"colour\\" is not known' "$T/rb.out"
check bulk_api_unknown_receiver_400 is 400 "$(rpost "$RB" '{"receiver":"nope"}')"
check bulk_api_unknown_receiver_says_so grep -q 'field \\"receiver\\" names no receiver of the configuration' "$T/rb.out"
check bulk_api_200 is 200 "$(rpost "$RB" '{"receiver":"box"}')"
check bulk_api_answers jq -e '.op == "messages_retry" and .by == "rob" and .count == 46 and .incidents == [1]' "$T/rb.out"
all_sent() { [ "$(curl -s -H "Authorization: Bearer $RV" "$URL/v1/messages?status=sent" | jq length)" = 46 ]; }
check bulk_api_delivered until_ok 20 all_sent
check bulk_api_none_left is 200 "$(rpost "$RB" '{"receiver":"box"}')"
check bulk_api_count_0 jq -e '.count == 0 and .incidents == []' "$T/rb.out"
kill -9 "$RBPID"
wait "$RBPID" 2>/dev/null
start rbs2 "$T/rbs.db" --clock event --config "$T/rbox.yaml"
RBPID=$PID
check bulk_api_journal_reapplied grep -q 're-applied [0-9]* journal entr' "$T/rbs2.err"
sleep 1.5 # a deliverer pass: nothing is sent again
api_notes() { curl -s -H "Authorization: Bearer $RV" "$URL/v1/incidents/1" | jq -c '[.timeline[] | select(.kind == "note") | [.actor, .text]]'; }
check bulk_api_note_once is '[["rob","46 failed messages via box queued again by hand by rob"]]' "$(api_notes)"
check bulk_api_each_sent_once is "46 46" "$(curl -s -H "Authorization: Bearer $RV" "$URL/v1/messages?status=sent" | jq '[.[] | select(.attempts == 1)] | length') $(ls "$T/rbox" | wc -l)"
kill "$RBPID"
wait "$RBPID" 2>/dev/null

# ---- a receiver that is down: one message tried, the other 45 held behind its retry ------
cat >"$T/down.yaml" <<EOF
receivers:
  down: {webhook: "http://127.0.0.1:1/x", backoff: 1h}
notify: {team: [down], customer: [down]}
EOF
"$K" ingest --config "$T/down.yaml" --db "$T/down.db" "$T/o51.ndjson" >"$T/down.out" 2>&1
check down_ingest_says_where_to_look grep -qx "messages still waiting: kintsugi messages receivers --db $T/down.db says why; kintsugi messages deliver --db $T/down.db (or kintsugi serve) sends them when due" "$T/down.out"
held_counts() { "$K" messages --json --db "$T/down.db" | jq -r '[length, ([.[] | select(.attempts == 1 and .audience == "team")] | length), ([.[] | select(.attempts == 0 and (.detail | startswith("held until ")) and (.detail | contains(": down did not take message ")))] | length), ([.[] | .status] | unique | join(","))] | join(" ")'; }
check down_receiver_tried_once is "46 1 45 queued" "$(held_counts)"
"$K" messages receivers --json --config "$T/down.yaml" --db "$T/down.db" >"$T/down.json"
check down_receiver_json jq -e '.[0] | .receiver == "down" and .queued == 46 and .failed == 0 and .retrying == "attempt 1: connection refused" and (.next_attempt_at | type) == "string"' "$T/down.json"
check down_receiver_line bash -c "$K messages receivers --config $T/down.yaml --db $T/down.db | grep -Eq '^down: 46 waiting, retrying \(attempt 1: connection refused\); next attempt 20[0-9-]+T'"

# the server on the same outage says so in /metrics
cp "$T/down.db" "$T/downs.db"
"$K" token create --name m --role viewer --db "$T/downs.db" >"$T/downs.tok" 2>/dev/null
start downs "$T/downs.db" --clock event --config "$T/down.yaml"
retrying_of() { curl -s -H "Authorization: Bearer $(cat "$T/downs.tok")" "$URL/metrics" | grep -x "kintsugi_messages_retrying{receiver=\"$1\"} [01]"; }
check metrics_receiver_retrying is 'kintsugi_messages_retrying{receiver="down"} 1' "$(retrying_of down)"
stop "$PID"
# the receiver fixed (a directory now): what is held waits for its retry, unless --now
mkdir -p "$T/downbox"
printf 'receivers:\n  down: {dir: "%s"}\nnotify: {team: [down], customer: [down]}\n' "$T/downbox" >"$T/down2.yaml"
"$K" messages deliver --wait 0 --config "$T/down2.yaml" --db "$T/down.db" >"$T/down2.out" 2>&1
check down_held_until_the_retry grep -qx 'messages: 0 sent, 0 failed for good; some still wait for a retry' "$T/down2.out"
check now_unknown_receiver_exits_2 exit_is 2 "$K" messages deliver --wait 0 --now --receiver nosuch --config "$T/down2.yaml" --db "$T/down.db"
check retry_failed_unknown_receiver_exits_2 exit_is 2 "$K" messages retry-failed --receiver nosuch --by rob --config "$T/down2.yaml" --db "$T/down.db"
"$K" messages deliver --wait 0 --now --receiver down --config "$T/down2.yaml" --db "$T/down.db" >"$T/down2.out" 2>&1
check down_now_made_due grep -qx '46 waiting messages of down made due now' "$T/down2.out"
check down_now_sent grep -qx 'messages: 46 sent, 0 failed for good' "$T/down2.out"
check down_now_each_once is 46 "$(ls "$T/downbox" | wc -l)"

# ---- not acknowledged in time: the escalation the timeline announces goes out, once -------
mkdir -p "$T/escbox"
printf 'receivers:\n  box: {dir: "%s"}\nnotify: {team: [box], leadership: [box]}\n' "$T/escbox" >"$T/esc.yaml"
esc_of() { "$K" messages --db "$1" --json | jq -r '[.[] | select(.recipient == "escalation") | [.audience, .kind, .created_at] | join(" ")] | join(",")'; }
esc_notes() { "$K" incident show 1 --db "$1" --json | jq -r '[.timeline[] | select(.text | startswith("Not acknowledged in time")) | .at + " " + .text] | join(",")'; }
# order rejections, P2 from detection: the core team, 1 h (sla.ack.P2) after it
"$K" simulate --fault rejections --skus 200 --seed 3 --out "$T/rej.ndjson" 2>/dev/null
"$K" ingest --quiet --no-deliver --config "$T/esc.yaml" --db "$T/escp2.db" "$T/rej.ndjson" >/dev/null 2>&1
det=$("$K" incident show 1 --db "$T/escp2.db" --json | jq -r .detected_at)
sla=$(python3 -c 'import datetime, sys; d = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ") + datetime.timedelta(hours=1); print(d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000))' "$det")
check escalation_p2_core_team_at_the_sla is "team incident $sla" "$(esc_of "$T/escp2.db")"
check escalation_p2_on_the_timeline is "$sla Not acknowledged in time: the core team notified (operations, customer success, IT, finance): 1 message queued" "$(esc_notes "$T/escp2.db")"
# a WMS outage, P1 at 09:20: leadership (the core team was told then), at 09:35 (sla.ack.P1 15m)
gen 5 10 120 >"$T/esc1.ndjson"
"$K" ingest --quiet --no-deliver --config "$T/esc.yaml" --db "$T/escp1.db" "$T/esc1.ndjson" >/dev/null 2>&1
check escalation_p1_leadership is "leadership incident 2026-11-22T09:35:00.000Z" "$(esc_of "$T/escp1.db")"
check escalation_p1_on_the_timeline is "2026-11-22T09:35:00.000Z Not acknowledged in time: leadership notified: 1 message queued" "$(esc_notes "$T/escp1.db")"
# the engine's own entries (the P1, the escalation) say who is told where a receiver
# of that audience is configured, and that nothing was sent where none is
eng_notes() { "$K" incident show 1 --db "$1" --json | jq -r '[.timeline[] | select(.text | startswith("P1: the whole") or startswith("Escalation notification")) | .text] | join(",")'; }
check escalation_entries_with_receivers is "P1: the whole core team is notified,Escalation notification: incident 1 is not acknowledged" "$(eng_notes "$T/escp1.db")"
printf '# no notify: messages off\n' >"$T/escoff.yaml"
"$K" ingest --quiet --no-deliver --config "$T/escoff.yaml" --db "$T/escoff.db" "$T/esc1.ndjson" >/dev/null 2>&1
check escalation_entries_without_receivers is "P1: the whole core team is to be notified: no receiver for the team audience (notify.team in kintsugi.yaml); nothing sent,Escalation notification: incident 1 is not acknowledged: no receiver for the leadership audience (notify.leadership in kintsugi.yaml); nothing sent" "$(eng_notes "$T/escoff.db")"
check escalation_entries_without_receivers_no_message is "0" "$("$K" messages --db "$T/escoff.db" --json | jq length)"
# acknowledged 30 minutes after detection: no escalation
python3 - "$T/rej.ndjson" "$det" "$T/rej1.ndjson" "$T/rej2.ndjson" <<'EOF'
import datetime, json, sys
src, det, a, b = sys.argv[1:]
cut = (datetime.datetime.strptime(det, "%Y-%m-%dT%H:%M:%S.%fZ") + datetime.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
with open(src) as f, open(a, "w") as fa, open(b, "w") as fb:
    for line in f:
        (fa if json.loads(line)["ts"] < cut else fb).write(line)
EOF
"$K" ingest --quiet --no-deliver --config "$T/esc.yaml" --db "$T/escack.db" "$T/rej1.ndjson" >/dev/null 2>&1
"$K" incident ack 1 --by ada --config "$T/esc.yaml" --db "$T/escack.db" >/dev/null 2>&1
"$K" ingest --quiet --no-deliver --config "$T/esc.yaml" --db "$T/escack.db" "$T/rej2.ndjson" >/dev/null 2>&1
check escalation_none_when_acknowledged is "true  " "$("$K" incident show 1 --db "$T/escack.db" --json | jq '.acknowledged_at != null') $(esc_of "$T/escack.db") $(esc_notes "$T/escack.db")"

# ---- a delivery's progress on a terminal: a line per outbox, none off a terminal ----------
mkdir -p "$T/ttybox"
printf 'receivers:\n  box: {dir: "%s"}\nnotify: {team: [box], customer: [box]}\n' "$T/ttybox" >"$T/tty.yaml"
script -qfec "$K ingest --config $T/tty.yaml --db $T/tty.db $T/o51.ndjson" /dev/null >"$T/tty.out" 2>&1
check delivery_progress_on_a_tty grep -q 'messages: 46 delivered, 0 to retry, 0 failed' "$T/tty.out"
check delivery_progress_says_unconfigured_hooks grep -Eq 'hook calls: 0 delivered, 0 to retry, 0 failed, [1-9][0-9]* not configured' "$T/tty.out"
check no_delivery_progress_off_a_terminal bash -c "! grep -q 'to retry' '$T/rb.out'"

# ---- the server: GET /v1/messages is the CLI's JSON, and it delivers by itself -------
"$K" token create --name v --role admin --db "$T/s.db" >"$T/v.tok" 2>/dev/null
VT=$(cat "$T/v.tok")
start serve "$T/s.db" --clock event --config "$T/a50.yaml"
SPID=$PID
curl -s -H "Authorization: Bearer $VT" -H 'Content-Type: application/x-ndjson' --data-binary @"$T/o51.ndjson" "$URL/v1/events?end=true" >/dev/null
until_sent() { # TOKEN: none queued (and some sent) on the server at $URL
    for _ in $(seq 1 100); do
        [ "$(curl -s -H "Authorization: Bearer $1" "$URL/v1/messages?status=queued" | jq length)" = 0 ] &&
            [ "$(curl -s -H "Authorization: Bearer $1" "$URL/v1/messages?status=sent" | jq length)" -gt 0 ] && return 0
        sleep 0.1
    done
    return 1
}
check serve_delivers until_sent "$VT"
route=$(curl -s -H "Authorization: Bearer $VT" "$URL/v1/messages?audience=customer")
cli=$("$K" messages --audience customer --json --db "$T/s.db")
check serve_route_is_cli_json [ -n "$route" -a "$route" = "$cli" ]
check serve_metrics_count_messages bash -c "curl -s -H 'Authorization: Bearer $VT' $URL/metrics | grep -qx 'kintsugi_outbox{kind=\"message\",status=\"sent\"} 46'"
kill "$SPID"
wait "$SPID" 2>/dev/null

# ---- kill -9 of the server after its messages went out: the journal re-applied at the
# restart writes the messages again (new ids, the same keys), and their results find them
# by key: none is sent a second time.
: >"$T/kcalls"
python3 "$T/hook.py" "$T/kcalls" "$T/khook.port" "" & PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/khook.port" ] && break; sleep 0.1; done
printf 'receivers:\n  web: {webhook: "http://127.0.0.1:%s/k"}\nnotify: {team: [web], customer: [web]}\n' \
    "$(cat "$T/khook.port")" >"$T/k9.yaml"
"$K" token create --name v --role admin --db "$T/k9.db" >"$T/k9.tok" 2>/dev/null
KT=$(cat "$T/k9.tok")
start k9a "$T/k9.db" --clock event --config "$T/k9.yaml"
K9PID=$PID
curl -s -H "Authorization: Bearer $KT" -H 'Content-Type: application/x-ndjson' --data-binary @"$T/o51.ndjson" "$URL/v1/events?end=true" >/dev/null
check k9_all_sent until_sent "$KT"
SENT=$(curl -s -H "Authorization: Bearer $KT" "$URL/v1/messages?status=sent" | jq length)
check k9_each_key_once_before [ "$(jq -r .key "$T/kcalls" | sort | uniq -d | wc -l)" = 0 -a "$(wc -l <"$T/kcalls")" = "$SENT" ]
kill -9 "$K9PID"
wait "$K9PID" 2>/dev/null
start k9b "$T/k9.db" --clock event --config "$T/k9.yaml"
K9PID=$PID
check k9_journal_reapplied grep -q 're-applied [0-9]* journal entr' "$T/k9b.err"
check k9_still_all_sent until_sent "$KT"
sleep 2 # the deliverer's pass after the restart
check k9_none_sent_again [ "$(jq -r .key "$T/kcalls" | sort | uniq -d | wc -l)" = 0 -a "$(wc -l <"$T/kcalls")" = "$SENT" ]
check k9_same_sent_count [ "$(curl -s -H "Authorization: Bearer $KT" "$URL/v1/messages?status=sent" | jq length)" = "$SENT" ]
kill "$K9PID"
wait "$K9PID" 2>/dev/null

# ---- the server's deliverer: a thread per receiver and one for hooks. While a slow
# receiver (0.25 s a message) works through 44 customer notices, a second incident's
# hook call and team message go out through the other receiver at once --------------
: >"$T/fast"
: >"$T/slowc"
python3 "$T/hook.py" "$T/fast" "$T/fast.port" "" 0 & PIDS+=($!)
python3 "$T/hook.py" "$T/slowc" "$T/slowc.port" "" 0.25 & PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/fast.port" ] && [ -s "$T/slowc.port" ] && break; sleep 0.1; done
cat >"$T/two.yaml" <<EOF
receivers:
  fast: {webhook: "http://127.0.0.1:$(cat "$T/fast.port")/team"}
  slow: {webhook: "http://127.0.0.1:$(cat "$T/slowc.port")/customers"}
notify: {team: [fast], customer: [slow]}
hooks:
  stop_order_import: {url: "http://127.0.0.1:$(cat "$T/fast.port")/hooks"}
EOF
python3 - >"$T/erp.ndjson" <<'PY'
import json
t = 1795338000000 + 600000 + 51 * 1000 + 5 * 60000  # after gen 51's last tick
for e in [{"type": "health", "ts": t + 1000, "system": "erp", "location": "hq", "status": "up"},
          {"type": "health", "ts": t + 2000, "system": "erp", "location": "hq", "status": "down"},
          {"type": "tick", "ts": t + 2000 + 10 * 60000}]:
    print(json.dumps(e))
PY
"$K" token create --name v --role admin --db "$T/two.db" >"$T/two.tok" 2>/dev/null
VT=$(cat "$T/two.tok")
start two "$T/two.db" --clock event --config "$T/two.yaml"
SPID=$PID
post() { curl -s -H "Authorization: Bearer $VT" -H 'Content-Type: application/x-ndjson' --data-binary @"$1" "$URL/v1/events?end=true" >/dev/null; }
post "$T/o51.ndjson"
for _ in $(seq 1 100); do [ "$(wc -l <"$T/slowc")" -ge 3 ] && break; sleep 0.1; done
post "$T/erp.ndjson" # incident 2: an ERP outage, its hook call and its team message
incident2() { [ "$(jq -r 'select(.body.incident == 2) | .body.action // .body.kind' "$T/fast" | sort | tr '\n' ' ')" = "incident stop_order_import " ]; }
for _ in $(seq 1 100); do incident2 && break; sleep 0.1; done
slow_then=$(wc -l <"$T/slowc")
check deliverer_incident2_not_behind_customers incident2
check deliverer_slow_receiver_still_busy [ "$slow_then" -ge 3 -a "$slow_then" -lt 40 ]
# the fast receiver's last attempt is recorded just after its answer
fast_done() { [ "$(curl -s -H "Authorization: Bearer $VT" "$URL/v1/receivers" | jq '.[] | select(.receiver == "fast") | .queued')" = 0 ]; }
for _ in $(seq 1 50); do fast_done && break; sleep 0.1; done
waiting=$(curl -s -H "Authorization: Bearer $VT" "$URL/v1/receivers")
check receivers_route_while_behind is "fast 0 null slow true true" "$(echo "$waiting" | jq -r '[.[] | .receiver, (if .receiver == "fast" then .queued, (.oldest_queued_at | tostring) else (.queued > 0), (.oldest_queued_at != null) end)] | join(" ")')"
metric() { curl -s -H "Authorization: Bearer $VT" "$URL/metrics" | sed -n "s/^$1 //p"; }
check metrics_queued_by_receiver [ "$(metric 'kintsugi_messages_queued{receiver="fast"}')" = 0 -a "$(metric 'kintsugi_messages_queued{receiver="slow"}')" -gt 0 ]
check metrics_slow_is_not_failing is 0 "$(metric 'kintsugi_messages_retrying{receiver="slow"}')"
# the oldest waiting notice was queued at the customer trigger; the ERP events moved the clock past it
check metrics_slow_receiver_behind awk -v v="$(metric 'kintsugi_messages_oldest_queued_seconds{receiver="slow"}')" 'BEGIN { exit !(v > 600) }'
until_sent "$VT"
check metrics_caught_up [ "$(metric 'kintsugi_messages_queued{receiver="slow"}')" = 0 -a "$(metric 'kintsugi_messages_oldest_queued_seconds{receiver="slow"}')" = 0 ]
check deliverer_each_notice_once [ "$(wc -l <"$T/slowc")" = 44 -a "$(jq -r .key "$T/slowc" | sort -u | wc -l)" = 44 ]
check deliverer_customers_by_their_receiver [ "$(jq -r .body.audience "$T/fast" | grep -c customer)" = 0 ]
check receivers_route_is_cli_json [ "$(curl -s -H "Authorization: Bearer $VT" "$URL/v1/receivers")" = "$("$K" messages receivers --json --config "$T/two.yaml" --db "$T/two.db")" ]
check route_messages_of_one_receiver [ "$(curl -s -H "Authorization: Bearer $VT" "$URL/v1/messages?receiver=slow")" = "$("$K" messages --receiver slow --json --db "$T/two.db")" ]
check receivers_caught_up is "fast 0 slow 0 44" "$(curl -s -H "Authorization: Bearer $VT" "$URL/v1/receivers" | jq -r '[.[] | .receiver, .queued, (select(.receiver == "slow") | .sent)] | join(" ")')"
kill "$SPID"
wait "$SPID" 2>/dev/null

# ---- P1 and revenue: the core team and leadership within 30 min of event time -----
gen 60 300 30 >"$T/p1.ndjson"
"$K" ingest --quiet --config "$T/kintsugi.yaml" --db "$T/p1.db" "$T/p1.ndjson" >/dev/null 2>&1
check p1_core_team [ "$("$K" messages --db "$T/p1.db" --json | jq '[.[] | select(.recipient == "core_team")] | length')" = 1 ]
# revenue passes 10,000 with the 34th order (34 x 300): 09:10:33, and makes it a P1 that
# nobody acknowledges within 15m: leadership again at 09:25:33, the escalation
lead_at() { "$K" messages --db "$T/p1.db" --json --audience leadership | jq -r '[.[] | .created_at + " " + .recipient] | sort | join(",")'; }
check leadership_by_mail_and_file_in_event_time is "2026-11-22T09:10:33.000Z leadership,2026-11-22T09:10:33.000Z lena@shop.example,2026-11-22T09:25:33.000Z escalation,2026-11-22T09:25:33.000Z lena@shop.example" "$(lead_at)"
# one file per message, named by its key: the leadership message of p1.db among them
lkey=$("$K" messages --db "$T/p1.db" --json --audience leadership | jq -r '.[] | select(.receiver == "files" and .recipient == "leadership") | .idempotency_key')
check dir_outbox_file jq -e ".audience == \"leadership\" and .idempotency_key == \"$lkey\" and .incident == 1" "$T/outbox/$lkey.json"
check dir_outbox_no_temp_left [ -z "$(ls -A "$T/outbox" | grep -v '^ks-[0-9a-f]*\.json$')" ]

# ---- a P1 from its detection: the team's message once per person, the core team told ----
# operations (olivia) and the chat are told at detection; the core team's e-mail of
# the same instant goes only to the core teams not told yet (carl, ivan, fiona), and
# the chat gets the core team's message too: its label (core_team) is what routes it.
sed 's/^notify: .*/notify: {team: [mail, chat], leadership: [files], customer: [mail]}/' "$T/kintsugi.yaml" >"$T/p1d.yaml"
"$K" ingest --quiet --no-deliver --config "$T/p1d.yaml" --db "$T/p1d.db" "$SC/zero_spike_p1/events.ndjson" >/dev/null 2>&1
check p1_at_detection_is_p1 is "P1" "$("$K" incident show 1 --db "$T/p1d.db" --json | jq -r .severity)"
check p1_at_detection_each_told_once is "carl@shop.example,core_team,fiona@shop.example,ivan@shop.example,olivia@shop.example,team" \
    "$("$K" messages --db "$T/p1d.db" --json --audience team | jq -r '[.[] | select(.kind == "incident") | .recipient] | sort | join(",")')"
# only a dir receiver: the zero spike, P1 at its detection, tells the core team (one
# file labelled core_team), as an incident that becomes a P1 later does
mkdir -p "$T/p1box"
printf 'receivers:\n  box: {dir: "%s"}\nnotify: {team: [box], leadership: [box], customer: [box]}\n' "$T/p1box" >"$T/p1box.yaml"
"$K" ingest --quiet --config "$T/p1box.yaml" --db "$T/p1box.db" "$SC/zero_spike_p1/events.ndjson" >/dev/null 2>&1
check p1_at_detection_core_team_through_a_dir is "team incident,core_team incident,team update" \
    "$("$K" messages --db "$T/p1box.db" --json | jq -r '[.[] | .recipient + " " + .kind] | join(",")')"
check p1_at_detection_core_team_on_the_timeline bash -c "'$K' incident show 1 --db '$T/p1box.db' | grep -q 'P1: the core team notified (operations, customer success, IT, finance): 1 message queued\$'"
check p1_at_detection_core_team_file is "1" "$(cat "$T"/p1box/ks-*.json | jq -r 'select(.recipient == "core_team") | .incident')"

# ---- money adds up exactly: 9 x 1000.10 + 999.10 is 10000, not more -------------------
rev() { # LAST-ORDER-VALUE DB: an outage's ten orders, the last one of LAST-ORDER-VALUE
    { outage_orders 9 1000.10 0 none | head -n -1
      printf '{"type":"order","ts":1795338609000,"order_id":"o9","channel":"amazon","status":"accepted","location":"wh1","customer":"c9","value":%s}\n{"type":"tick","ts":1795338909000}\n' "$1"; } >"$T/rev.ndjson"
    "$K" ingest --quiet --no-deliver --config "$T/kintsugi.yaml" --db "$2" "$T/rev.ndjson" >/dev/null 2>&1
}
rev 999.10 "$T/rev0.db"
check revenue_sums_to_exactly_10000 is "10000" "$("$K" incident show 1 --db "$T/rev0.db" --json | jq -c '.impact.revenue')"
check revenue_of_10000_tells_no_leadership is "0" "$("$K" messages --db "$T/rev0.db" --json --audience leadership | jq length)"
rev 999.11 "$T/rev1.db"
check revenue_of_10000_01_tells_leadership is "10000.01 2" "$("$K" incident show 1 --db "$T/rev1.db" --json | jq -c '.impact.revenue') $("$K" messages --db "$T/rev1.db" --json --audience leadership | jq length)"

# ---- templates ---------------------------------------------------------------------
mkdir -p "$T/tpl"
cat >"$T/tpl/customer_notice.txt" <<'EOF'
Subject: {{shop}}: order {{order}} ({{incident}})

{{title}}|{{type}}|{{severity}}|{{status}}|{{started}}|{{detected}}|{{shop}}
{{what_happened}}|{{current_actions}}|{{next_update}}|{{timeline}}|{{recipient}}
{{channels}}|{{locations}}|{{order}}|{{email}}|{{what_we_are_doing}}|{{next_steps}}
{{resolution_timeline}}|{{compensation}}|{{prevention}}|{{new_ship_date}}|{{remedy}}|{{cancel}}
EOF
sed "s|^messages: .*|messages: {shop: \"Example Shop\", templates: \"$T/tpl\"}|" "$T/kintsugi.yaml" >"$T/tpl.yaml"
check template_dir_ok "$K" check-config "$T/tpl.yaml"
check preview_every_placeholder bash -c "$K messages preview 1 --template customer_notice --config $T/tpl.yaml --db $T/a51.db >$T/pv && grep -q '^Subject: Example Shop: order o0 (1)$' $T/pv && ! grep -q '{{' $T/pv && grep -q '|c0@shop.example|' $T/pv"
printf 'Subject: x\n\nHello {{name}}\n' >"$T/tpl/follow_up.txt"
check unknown_placeholder_refused bash -c "$K check-config $T/tpl.yaml >$T/cc 2>&1; [ \$? = 2 ] && grep -q 'follow_up.txt:3: unknown placeholder {{name}} for the follow_up template' $T/cc"
printf 'Subject: x\n\nHello {{order\n' >"$T/tpl/follow_up.txt"
check broken_template_refused bash -c "$K check-config $T/tpl.yaml 2>&1 | grep -q 'follow_up.txt:3: unclosed or malformed placeholder'"
sed 's/customer: \[mail\]/customer: [mial]/' "$T/kintsugi.yaml" >"$T/bad.yaml"
check unknown_receiver_refused bash -c "$K check-config $T/bad.yaml 2>&1 | grep -q 'key \"notify.customer\[0\]\": unknown receiver \"mial\" (did you mean \"mail\"?)'"

# ---- kill -9 during delivery: nothing lost, nothing doubled (by key) -------------------
: >"$T/slow"
python3 "$T/hook.py" "$T/slow" "$T/slow.port" "" 0.01 & PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/slow.port" ] && break; sleep 0.1; done
cat >"$T/kill.yaml" <<EOF
receivers:
  hook: {webhook: "http://127.0.0.1:$(cat "$T/slow.port")/n"}
notify: {team: [hook], customer: [hook]}
EOF
gen 400 10 5 >"$T/o400.ndjson"
"$K" ingest --quiet --config "$T/kill.yaml" --db "$T/k.db" "$T/o400.ndjson" >/dev/null 2>&1 &
ING=$!
sleep 1.5
kill -9 $ING 2>/dev/null
wait $ING 2>/dev/null
"$K" ingest --quiet --config "$T/kill.yaml" --db "$T/k.db" "$T/o400.ndjson" >/dev/null 2>&1
"$K" messages deliver --config "$T/kill.yaml" --db "$T/k.db" >/dev/null 2>&1
total=$("$K" messages --db "$T/k.db" --json | jq length)
check kill9_all_sent [ "$("$K" messages --db "$T/k.db" --json --status sent | jq length)" = "$total" -a "$total" -gt 300 ]
check kill9_nothing_lost [ "$(jq -r .key "$T/slow" | sort -u | wc -l)" = "$total" ]
check kill9_at_most_one_repeat [ "$(($(wc -l <"$T/slow") - total))" -le 1 ]
check kill9_no_lease_left [ "$(sqlite3 "$T/k.db" 'SELECT count(*) FROM messages WHERE lease_owner IS NOT NULL')" = 0 ]

# ---- delivery leases (docs/STORAGE.md): a lease of a process that no longer holds the
# writer lock is voided by the next writer, which then delivers the rows at once
gen 60 10 5 >"$T/o60.ndjson"
"$K" ingest --quiet --no-deliver --config "$T/kill.yaml" --db "$T/l.db" "$T/o60.ndjson" >/dev/null 2>&1
sqlite3 "$T/l.db" "UPDATE messages SET lease_owner = 'gone pid 1 since 2026-12-01T00:00:00.000Z', lease_until = '2999-01-01T00:00:00.000Z' WHERE status = 'queued'"
leased=$(sqlite3 "$T/l.db" "SELECT count(*) FROM messages WHERE lease_owner LIKE 'gone %'")
: >"$T/slow"
"$K" messages deliver --config "$T/kill.yaml" --db "$T/l.db" >/dev/null 2>&1
check lease_of_the_gone_voided [ "$leased" -gt 8 -a "$("$K" messages --db "$T/l.db" --json --status sent | jq length)" = "$leased" ]
check lease_each_sent_once [ "$(wc -l <"$T/slow")" = "$leased" -a "$(jq -r .key "$T/slow" | sort -u | wc -l)" = "$leased" ]
check lease_ended_by_the_attempt [ "$(sqlite3 "$T/l.db" 'SELECT count(*) FROM messages WHERE lease_owner IS NOT NULL')" = 0 ]

# ---- kill -9 during an ingest with messages: the same as an uninterrupted run ----------
"$K" simulate --seed 7 --duration 30h --skus 300 --fault all --out "$T/sim.ndjson" 2>/dev/null
mkdir -p "$T/simout"
cat >"$T/sim.yaml" <<EOF
roles:
  manager: {approve: ["*"]}
people:
  olivia: {role: manager, email: olivia@shop.example, team: operations}
  lena: {role: manager, email: lena@shop.example, team: leadership}
receivers:
  out: {dir: "$T/simout"}
notify: {team: [out], leadership: [out], customer: [out]}
messages: {customers: 5}
EOF
simsnap() { # db: incidents with timelines, and the messages without their delivery nor
    # their keys (each database has its own; a resumed ingest keeps its database's)
    local n i
    "$K" incidents --db "$1" --json
    n=$("$K" incidents --db "$1" --json | jq length)
    for i in $(seq 1 "$n"); do "$K" incident show "$i" --db "$1" --json; done
    "$K" messages --db "$1" --json | jq -c 'map({incident, kind, audience, recipient, receiver, created_at}) | sort_by(.incident, .kind, .audience, .recipient, .receiver, .created_at)'
}
"$K" ingest --quiet --no-deliver --config "$T/sim.yaml" --db "$T/simu.db" "$T/sim.ndjson" >/dev/null 2>&1
simsnap "$T/simu.db" >"$T/simu.snap"
check sim_has_customer_notices [ "$("$K" messages --db "$T/simu.db" --json --audience customer | jq length)" -gt 20 ]
for trial in 1 2; do
    for every in 0 30; do
        db=$T/simk$trial$every.db
        KINTSUGI_CHECKPOINT_EVERY=$every "$K" ingest --quiet --no-deliver --config "$T/sim.yaml" --db "$db" "$T/sim.ndjson" >/dev/null 2>&1 &
        pid=$!
        sleep "0.$((RANDOM % 9 + 1))"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        "$K" ingest --quiet --no-deliver --config "$T/sim.yaml" --db "$db" "$T/sim.ndjson" >/dev/null 2>&1
        simsnap "$db" >"$T/simk.snap"
        check "sim_kill_${trial}_${every}_same_as_uninterrupted" cmp "$T/simu.snap" "$T/simk.snap"
    done
done

# ---- two databases fed the same events: the same messages, never one key -----------
# (staging and production, or a database rebuilt from scratch, writing to one
# receiver): each database has its own id, which every key carries, so that a
# dir receiver keeps every message of both and a receiver deduplicating on the
# key drops none. A restart keeps the keys of its database (k9_* above).
mkdir -p "$T/shared"
sed "s#$T/simout#$T/shared#" "$T/sim.yaml" >"$T/shared.yaml"
"$K" ingest --quiet --config "$T/shared.yaml" --db "$T/stage.db" "$T/sim.ndjson" >/dev/null 2>&1
"$K" ingest --quiet --config "$T/shared.yaml" --db "$T/prod.db" "$T/sim.ndjson" >/dev/null 2>&1
dbid() { sqlite3 "$1" "SELECT CAST(value AS TEXT) FROM blobs WHERE key = 'db_id'"; }
check two_dbs_own_ids bash -c "[[ '$(dbid "$T/stage.db")' =~ ^[0-9a-f]{32}$ && '$(dbid "$T/prod.db")' =~ ^[0-9a-f]{32}$ && '$(dbid "$T/stage.db")' != '$(dbid "$T/prod.db")' ]]"
check two_dbs_same_messages cmp <(who "$T/stage.db") <(who "$T/prod.db")
nstage=$("$K" messages --db "$T/stage.db" --json --status sent | jq '[.[] | select(.receiver == "out")] | length')
nprod=$("$K" messages --db "$T/prod.db" --json --status sent | jq '[.[] | select(.receiver == "out")] | length')
check two_dbs_all_sent [ "$nstage" -gt 20 -a "$nstage" = "$nprod" -a "$("$K" messages --db "$T/stage.db" --json | jq '[.[] | select(.receiver == "out")] | length')" = "$nstage" ]
# every message of both is a file of its own: none overwrote another
check two_dbs_no_file_shared [ "$(ls "$T/shared" | grep -c '^ks-[0-9a-f]\{32\}\.json$')" = $((nstage + nprod)) ]
outkeys() { "$K" messages --db "$1" --json | jq -r '.[] | select(.receiver == "out") | .idempotency_key + ".json"' | sort; }
check two_dbs_files_are_their_keys cmp <(sort -m <(outkeys "$T/stage.db") <(outkeys "$T/prod.db")) <(ls "$T/shared" | sort)
check two_dbs_no_key_shared [ -z "$(comm -12 <(outkeys "$T/stage.db") <(outkeys "$T/prod.db"))" ]

# ---- an order's e-mail is remembered; nobody to tell is said so ------------------------
# The zero spike on amazon (SKU-0001..0005 zeroed, detected at 10:16:00) with orders
# for SKU-0001 accepted before it and cancelled after it by events that name only the
# order, as most systems send them. messages.customers 0: the first affected customer
# makes the notices due.
mkdir -p "$T/embox"
printf 'receivers:\n  box: {dir: "%s"}\nnotify: {team: [box], customer: [box]}\nmessages: {customers: 0}\n' "$T/embox" >"$T/em.yaml"
em_events() { # EMAIL-OF-O1 EMAIL-OF-O2 (or -): o1 cancelled at 10:20, o2 (if any) at 10:40
    cat "$SC/zero_spike_p1/events.ndjson"
    python3 - "$@" <<'PY'
import json, sys
for i, (email, acc, canc) in enumerate(zip(sys.argv[1:], ("10:05", "10:06"), ("10:20", "10:40")), 1):
    if email == "":
        continue
    o = {"type": "order", "ts": "2026-11-22T%s:00Z" % acc, "order_id": "o%d" % i, "channel": "amazon",
         "status": "accepted", "customer": "c%d" % i, "value": 20, "lines": [{"sku": "SKU-0001", "qty": 1}]}
    if email != "-":
        o["email"] = email
    print(json.dumps(o))
    print(json.dumps({"type": "order", "ts": "2026-11-22T%s:00Z" % canc, "order_id": "o%d" % i,
                      "channel": "amazon", "status": "cancelled"}))
PY
}
em_run() { # NAME EVENTS...: ingest into NAME.db
    local db=$T/$1.db
    shift
    for f in "$@"; do "$K" ingest --quiet --no-deliver --config "$T/em.yaml" --db "$db" "$f" >/dev/null 2>&1; done
}
em_notices() { "$K" messages --db "$T/$1.db" --json --audience customer | jq -r '[.[] | "\(.kind) \(.recipient) \(.order) \(.created_at)"] | join(",")'; }
em_timeline() { "$K" incident show 1 --db "$T/$1.db" --json | jq -r '[.timeline[] | select(.text | startswith("Customer")) | .at + " " + .text] | join(",")'; }
em_report() { "$K" report --json --db "$T/$1.db" | jq -c '.metrics.customer_communication | [.value, .met, .count, .missing]'; }
# o1 accepted with an e-mail, cancelled without one: one notice, to that e-mail
em_events c1@shop.example "" >"$T/em1.ndjson"
em_run em1 "$T/em1.ndjson"
check email_remembered_one_notice is "customer_notice c1@shop.example o1 2026-11-22T10:20:00.000Z" "$(em_notices em1)"
check email_remembered_timeline is "2026-11-22T10:20:00.000Z Customer notices: more than 0 customers affected; one per affected order with an e-mail, the first 4m after detection" "$(em_timeline em1)"
check email_remembered_report is "[240,true,1,[]]" "$(em_report em1)"
# ... and through a restart between the order and its cancellation
head -n 83 "$T/em1.ndjson" >"$T/em1a.ndjson"
tail -n +84 "$T/em1.ndjson" >"$T/em1b.ndjson"
em_run em1r "$T/em1a.ndjson" "$T/em1b.ndjson"
check email_remembered_through_a_restart is "customer_notice c1@shop.example o1 2026-11-22T10:20:00.000Z" "$(em_notices em1r)"
# no affected order with an e-mail: nobody told, the timeline says so, the report does not count it
em_events - "" >"$T/em0.ndjson"
em_run em0 "$T/em0.ndjson"
check no_email_no_notice is "" "$(em_notices em0)"
check no_email_timeline_says_nobody_told is "2026-11-22T10:20:00.000Z Customer notices: 1 affected customer could not be told because their order carried no e-mail; nothing sent" "$(em_timeline em0)"
check no_email_report_not_met is "[null,null,0,[1]]" "$(em_report em0)"
# resolved: the resolution follow-up has nobody to follow up either
"$K" incident status 1 resolved --by ada --config "$T/em.yaml" --db "$T/em0.db" >/dev/null 2>&1
check no_email_follow_up_says_nobody is "Customer follow-up with the resolution: nobody to follow up, no affected order carried an e-mail; nothing sent" "$("$K" incident show 1 --db "$T/em0.db" --json | jq -r '.timeline[] | select(.text | startswith("Customer follow-up")) | .text')"
check no_email_resolved_still_no_message is "" "$(em_notices em0)"
check no_email_resolved_report_not_met is "[null,null,0,[1]]" "$(em_report em0)"
# an order with an e-mail affected later: the first notice is recorded at its instant
em_events - c2@shop.example >"$T/em2.ndjson"
em_run em2 "$T/em2.ndjson"
check late_email_one_notice is "customer_notice c2@shop.example o2 2026-11-22T10:40:00.000Z" "$(em_notices em2)"
check late_email_timeline is "2026-11-22T10:20:00.000Z Customer notices: 1 affected customer could not be told because their order carried no e-mail; nothing sent,2026-11-22T10:40:00.000Z Customer notices: one per affected order with an e-mail, the first 24m after detection (the first affected order that carried one)" "$(em_timeline em2)"
check late_email_report is "[1440,true,1,[]]" "$(em_report em2)"
# the same events in two ingests, cut between the two cancellations: the same timeline
grep -v 'T10:40:00Z' "$T/em2.ndjson" >"$T/em2a.ndjson"
grep 'T10:40:00Z' "$T/em2.ndjson" >"$T/em2b.ndjson"
em_run em2s "$T/em2a.ndjson" "$T/em2b.ndjson"
check late_email_split_same_timeline cmp <("$K" incident show 1 --json --db "$T/em2.db") <("$K" incident show 1 --json --db "$T/em2s.db")
check late_email_split_same_messages cmp <(who "$T/em2.db") <(who "$T/em2s.db")

# ---- an order's e-mail is one address: none adds a recipient, a UTF-8 subject is encoded ----
# Two orders whose "email" would put a second RCPT TO (CR LF) or a second address
# (a comma) into the envelope are dead letters naming the field; the third order's
# customer notice reaches its one recipient, with the shop's UTF-8 name in the
# subject as RFC 2047 encoded-words (the server offers no SMTPUTF8).
mkdir -p "$T/mailx"
/usr/bin/python3 "$T/smtp.py" "$T/mailx" "$T/smtpx.port" & PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/smtpx.port" ] && break; sleep 0.1; done
cat >"$T/inj.yaml" <<EOF
receivers:
  mail: {smtp: "smtp://127.0.0.1:$(cat "$T/smtpx.port")", from: "ops@shop.example", tls: none, retries: 0, timeout: 5s}
notify: {customer: [mail]}
messages: {customers: 0, shop: "Caf\u00e9 \u00dcn\u00efcode \u20ac"}
EOF
outage_orders 3 10 5 all | python3 -c '
import json, sys
bad = {"o1": "c1@shop.example>\r\nRCPT TO:<evil@attacker.example", "o2": "c2@shop.example,evil@attacker.example"}
for line in sys.stdin:
    e = json.loads(line)
    if e.get("order_id") in bad:
        e["email"] = bad[e["order_id"]]
    print(json.dumps(e))' >"$T/inj.ndjson"
"$K" ingest --config "$T/inj.yaml" --db "$T/inj.db" "$T/inj.ndjson" >"$T/inj.out" 2>&1
check email_injection_rejected grep -q ': 2 rejected, ' "$T/inj.out"
check email_injection_dead_letters is 'order: field "email" must be an e-mail address (name@domain): a line break is not allowed, got "c1@shop.example>\r\nRCPT TO:<evil@attac...|order: field "email" must be an e-mail address (name@domain): '"','"' is not allowed, got "c2@shop.example,evil@attacker.example"' "$("$K" deadletters --db "$T/inj.db" --json | jq -r '[.[].reason] | join("|")')"
"$K" messages deliver --wait 10s --config "$T/inj.yaml" --db "$T/inj.db" >/dev/null 2>&1
check email_injection_one_notice_sent is "1 sent c0@shop.example" "$("$K" messages --db "$T/inj.db" --json --audience customer | jq -r '"\(length) \(.[0].status) \(.[0].recipient)"')"
check email_injection_one_envelope_recipient is "c0@shop.example X-Rcpt: c0@shop.example" "$(cat "$T/mailx/rcpt.log") $(cat "$T"/mailx/*.eml | grep -a '^X-Rcpt' | tr -d '\r')"
check email_injection_attacker_never_reached bash -c "! grep -rqa 'attacker' '$T/mailx'"
check utf8_subject_as_encoded_words grep -aq '^Subject: =?UTF-8?B?' "$T/mailx/00001.eml"
check utf8_subject_headers_are_ascii python3 -c '
import sys
head = open(sys.argv[1], "rb").read().split(b"\r\n\r\n")[0]
assert all(b < 0x80 for b in head), head
assert all(len(l) <= 76 for l in head.split(b"\r\n") if l.startswith((b"Subject", b" ="))), head' "$T/mailx/00001.eml"
check utf8_subject_decodes python3 -c '
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
want = "About your order o0 with Caf\u00e9 \u00dcn\u00efcode \u20ac"
assert m["Subject"] == want, (m["Subject"], want)' "$T/mailx/00001.eml"

# ---- a test message through a receiver, from the CLI (no database) and the server -----
# (last: the mail and file counts above are exact)
mail_says() { # RCPT TEXT: a mail to RCPT whose decoded text has TEXT
    python3 - "$T/mail" "$1" "$2" <<'EOF'
import email, glob, sys
d, rcpt, text = sys.argv[1:]
for f in glob.glob(d + "/*.eml"):
    m = email.message_from_bytes(open(f, "rb").read())
    if rcpt not in m.get("X-Rcpt", ""):
        continue
    for part in m.walk():
        body = part.get_payload(decode=True)
        if body and text in body.decode("utf-8", "replace"):
            sys.exit(0)
sys.exit(1)
EOF
}
before_mail=$(ls "$T/mail"/*.eml | wc -l)
mkdir -p "$T/nodb"
KA=$(realpath "$K")
(cd "$T/nodb" && "$KA" messages test mail --to carl@shop.example --by ada --config "$T/kintsugi.yaml") >"$T/test.out" 2>&1
check test_smtp_exit_0 is 0 "$?"
check test_smtp_says_sent grep -Eqx 'test message sent through mail \(smtp\) to carl@shop.example: SMTP 250 accepted \(key ks-test-[0-9a-f]{16}\)' "$T/test.out"
check test_smtp_arrived is "$((before_mail + 1))" "$(ls "$T/mail"/*.eml | wc -l)"
check test_smtp_says_who_sent_it mail_says carl@shop.example 'through the receiver mail (smtp), sent by ada at'
check test_no_database_needed test ! -e "$T/nodb/kintsugi.db"
# a --to that is not one address is refused before anything is sent
"$K" messages test mail --to "$(printf 'carl@shop.example>\r\nRCPT TO:<evil@attacker.example')" --config "$T/kintsugi.yaml" >"$T/test.out" 2>&1
check test_smtp_bad_to_exit_2 is 2 "$?"
check test_smtp_bad_to_says_why grep -qF 'kintsugi: the recipient (to) must be an e-mail address (name@domain): a line break is not allowed, got "carl@shop.example>\x0d\nRCPT TO:<evil@attacker.example"' "$T/test.out"
"$K" messages test mail --to 'carl@shop.example, evil@attacker.example' --config "$T/kintsugi.yaml" >"$T/test.out" 2>&1
check test_smtp_two_addresses_exit_2 is 2 "$?"
check test_smtp_bad_to_sent_nothing is "$((before_mail + 1))" "$(ls "$T/mail"/*.eml | wc -l)"
"$K" messages test files --json --config "$T/kintsugi.yaml" >"$T/test.json"
check test_dir_json jq -e '.receiver == "files" and .kind == "dir" and .sent == true and .unavailable == false and (.key | test("^ks-test-[0-9a-f]{16}$")) and .recipient == "test"' "$T/test.json"
check test_dir_file_written jq -e '.kind == "test" and .incident == 0' "$T/outbox/$(jq -r .key "$T/test.json").json"
"$K" messages test chat --config "$T/kintsugi.yaml" >"$T/test.out" 2>&1 # the webhook answers 503 first
check test_refused_exit_1 is 1 "$?"
check test_refused_says_why grep -qx 'kintsugi: chat (webhook) did not take the test message to test: HTTP 503 Service Unavailable' "$T/test.out"
check test_refused_says_unreachable grep -q 'it could not be reached: check its address' "$T/test.out"
check test_unknown_receiver_exit_2 exit_is 2 "$K" messages test pager --config "$T/kintsugi.yaml"
check test_unknown_receiver_names_them bash -c "$K messages test pager --config $T/kintsugi.yaml 2>&1 | grep -qx 'kintsugi: no receiver pager is configured (receivers: mail, chat, files)'"
"$K" token create --name rob --role responder --db "$T/rt.db" >"$T/rt.tok" 2>/dev/null
"$K" token create --name vic --role viewer --db "$T/rt.db" >"$T/rtv.tok" 2>/dev/null
start rt "$T/rt.db" --config "$T/kintsugi.yaml"
RT=$(cat "$T/rt.tok") RTV=$(cat "$T/rtv.tok")
req POST /v1/receivers/mail/test "$RT" '{"to":"fiona@shop.example"}'
check test_api_200 is 200 "$CODE"
check test_api_answers jq -e '.receiver == "mail" and .sent == true and .recipient == "fiona@shop.example" and .by == "rob"' "$T/body"
check test_api_arrived mail_says fiona@shop.example 'sent by rob at'
req POST /v1/receivers/chat/test "$RT" '{}'
check test_api_502 is 502 "$CODE"
check test_api_502_says_why jq -e '.error.code == "receiver_failed" and (.error.message | contains("HTTP 503"))' "$T/body"
req POST /v1/receivers/pager/test "$RT" '{}'
check test_api_404 is 404 "$CODE"
req POST /v1/receivers/mail/test "$RT" '{"cc":"x"}'
check test_api_unknown_field_400 is 400 "$CODE"
req POST /v1/receivers/mail/test "$RT" '{"to":"fiona@shop.example>\r\nRCPT TO:<evil@attacker.example"}'
check test_api_bad_to_400 is 400 "$CODE"
check test_api_bad_to_says_why jq -e '.error.code == "invalid" and (.error.message | startswith("the recipient (to) must be an e-mail address (name@domain): a line break is not allowed"))' "$T/body"
check test_api_attacker_never_reached bash -c "! grep -rqa 'attacker' '$T/mail'"
req POST /v1/receivers/mail/test "$RTV" '{}'
check test_api_viewer_403 is 403 "$CODE"
check test_api_wrote_no_message is 0 "$("$K" messages --db "$T/rt.db" --json | jq length)"
# what waits for a retry of a receiver, due now (the browser test clicks it on an outage)
req POST /v1/receivers/files/deliver "$RT" '{}'
check deliver_now_api_200 is "200 {\"receiver\":\"files\",\"count\":0}" "$CODE $BODY"
req POST /v1/receivers/pager/deliver "$RT" '{}'
check deliver_now_api_404 is 404 "$CODE"
req POST /v1/receivers/files/deliver "$RT" '{"all":true}'
check deliver_now_api_400 is 400 "$CODE"
check deliver_now_api_names_the_field grep -qF 'field \"all\" is not known (none: the body is {} or empty)' "$T/body"
req POST /v1/messages/1/retry "$RT" '{"force":true}'
check retry_api_unknown_field_400 is "400 true" "$CODE $(jq '.error.message | startswith("field \"force\" is not known")' "$T/body")"
req GET '/v1/messages?stauts=failed' "$RTV"
check messages_unknown_query_400 is 400 "$CODE"
check messages_unknown_query_named grep -qF 'query \"stauts\" is not known (incident, audience, status, receiver, limit, view)' "$T/body"
req GET '/v1/receivers?name=mail' "$RTV"
check receivers_unknown_query_400 is 400 "$CODE"
req POST /v1/receivers/files/deliver "$RTV" '{}'
check deliver_now_api_viewer_403 is 403 "$CODE"
stop "$PID"

echo "RESULT passed=$passed failed=$failed"
