"""receiver.py - the hooks' and the team's webhook: answers 202 to every POST
and appends one line per call to LOG, flushed before answering:
{"path", "key" (the Idempotency-Key header)}. Writes its port to PORTFILE.

    python3 receiver.py LOG PORTFILE
"""
import http.server, json, os, sys

log = open(sys.argv[1], "a")


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        log.write(json.dumps({"path": self.path, "key": self.headers.get("Idempotency-Key")}) + "\n")
        log.flush()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class S(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a sender killed -9 mid-request: nothing to report


s = S(("127.0.0.1", 0), H)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
s.serve_forever()
