#!/usr/bin/env bash
# SMTP with TLS and a login (docs/MESSAGES.md, receivers): a real SMTP server
# (Debian's python3-aiosmtpd) that demands STARTTLS before anything and a
# login over it, and one speaking TLS from the first byte (smtps://), each
# with a self-signed certificate made here. One leadership message each run:
# delivered over TLS with the login; refused when the password is wrong
# (failed at once: a 535 is not retried), when TLS is off (the server's 530),
# and when the certificate does not verify (the failure names it).
# Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 2 \
    -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
check cert_made [ -s "$T/cert.pem" ]

cat >"$T/smtp.py" <<'EOF'
import os, socket, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
out, portfile, mode, cert, key = sys.argv[1:6]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
def auth(server, session, envelope, mechanism, data):
    ok = data.login == b"ops-sender" and data.password == b"s3cret pass"
    if ok:
        session.who = data.login
    return AuthResult(success=ok, handled=False)
class H:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        H.n += 1
        with open(os.path.join(out, "%05d.eml" % H.n), "wb") as f:
            tls = server.transport.get_extra_info("ssl_object") is not None
            f.write(b"X-TLS: " + (b"yes" if tls else b"no") + b"\r\n")
            login = getattr(session, "who", b"-")
            f.write(b"X-Login: " + login + b"\r\n")
            f.write(envelope.content)
        return "250 OK"
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
if mode == "starttls":
    c = Controller(H(), hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                   authenticator=auth, auth_require_tls=True, auth_required=True)
else:
    c = Controller(H(), hostname="127.0.0.1", port=port, ssl_context=ctx)
c.start()
with open(portfile + ".tmp", "w") as f:
    f.write(str(port))
os.rename(portfile + ".tmp", portfile)
while True:
    time.sleep(3600)
EOF
mkdir -p "$T/mail" "$T/mails"
/usr/bin/python3 "$T/smtp.py" "$T/mail" "$T/st.port" starttls "$T/cert.pem" "$T/key.pem" 2>/dev/null & PIDS+=($!)
/usr/bin/python3 "$T/smtp.py" "$T/mails" "$T/ss.port" smtps "$T/cert.pem" "$T/key.pem" 2>/dev/null & PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/st.port" ] && [ -s "$T/ss.port" ] && break; sleep 0.1; done
ST=$(cat "$T/st.port") SS=$(cat "$T/ss.port")
check servers_up [ -n "$ST" -a -n "$SS" ]

# 60 orders of 300 at a warehouse whose WMS is down: revenue passes the
# leadership threshold, one message to lena through the receiver "mail"; 15
# minutes later the P1 is not acknowledged, and its escalation tells her too.
outage_orders 60 300 30 none >"$T/ev.ndjson"

# run NAME RECEIVER-FLOW-MAP: a fresh store, the events, one delivery pass
run() {
    cat >"$T/$1.yaml" <<EOF
roles:
  manager: {approve: ["*"]}
people:
  lena: {role: manager, email: lena@shop.example, team: leadership}
receivers:
  mail: $2
  files: {dir: "$T/outbox"}
notify: {team: [files], leadership: [mail], customer: [files]}
EOF
    "$K" ingest --quiet --config "$T/$1.yaml" --db "$T/$1.db" "$T/ev.ndjson" >/dev/null 2>&1
    "$K" messages deliver --wait 10s --config "$T/$1.yaml" --db "$T/$1.db" >/dev/null 2>&1
    "$K" messages --db "$T/$1.db" --json --audience leadership >"$T/$1.json"
}
mkdir -p "$T/outbox"
URL="smtp://127.0.0.1:$ST"
FROM='from: "ops@shop.example", timeout: 5s, retries: 0'

run ok "{smtp: \"$URL\", $FROM, tls: required, insecure: true, username: ops-sender, password: \"s3cret pass\"}"
check starttls_login_sent [ "$(jq -r '.[0].status' "$T/ok.json")" = sent ]
check starttls_both_mails [ "$(ls "$T/mail" | wc -l)" = 2 ]
check starttls_was_tls grep -qx $'X-TLS: yes\r' "$T/mail/00001.eml"
check starttls_logged_in grep -qx $'X-Login: ops-sender\r' "$T/mail/00001.eml"
check starttls_to_lena grep -q '^To: lena@shop.example' "$T/mail/00001.eml"

run badpw "{smtp: \"$URL\", $FROM, tls: required, insecure: true, username: ops-sender, password: wrong}"
check bad_password_failed [ "$(jq -r '.[0].status' "$T/badpw.json")" = failed ]
check bad_password_said bash -c "jq -r '.[0].detail' '$T/badpw.json' | grep -q 535"
check bad_password_one_attempt [ "$(jq -r '.[0].attempts' "$T/badpw.json")" = 1 ]

run notls "{smtp: \"$URL\", $FROM, tls: none, username: ops-sender, password: \"s3cret pass\"}"
check no_tls_not_sent [ "$(jq -r '.[0].status' "$T/notls.json")" != sent ]
check no_tls_says_530 bash -c "jq -r '.[0].detail' '$T/notls.json' | grep -q 530"

run unverified "{smtp: \"$URL\", $FROM, tls: required, username: ops-sender, password: \"s3cret pass\"}"
check unverified_not_sent [ "$(jq -r '.[0].status' "$T/unverified.json")" != sent ]
check unverified_names_certificate bash -c "jq -r '.[0].detail' '$T/unverified.json' | grep -qi certificate"
check nothing_else_arrived [ "$(ls "$T/mail" | wc -l)" = 2 ]

run smtps "{smtp: \"smtps://127.0.0.1:$SS\", $FROM, insecure: true}"
check smtps_sent [ "$(jq -r '.[0].status' "$T/smtps.json")" = sent ]
check smtps_was_tls grep -qx $'X-TLS: yes\r' "$T/mails/00001.eml"

echo "RESULT passed=$passed failed=$failed"
[ "$failed" -eq 0 ]
