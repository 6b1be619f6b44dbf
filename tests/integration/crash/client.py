"""client.py - posts each request of DIR to POST /v1/events?end=true, in
order, until it is acknowledged (a 2xx): a connection refused or cut, or a
503, is a server being killed and restarted, and the same body is sent again
(every event has an id: what was committed before the answer was lost comes
back as duplicates). Every acknowledgement is appended to ACKS, flushed, as
"N ACCEPTED DUPLICATES LINES TIME" (N: the request's index; TIME: when, in Unix seconds). Any other answer
stops the client with exit 1. With ATTEMPTS, every attempt is appended
there too, as "N CODE SECONDS TIME" (CODE 0: no answer, the connection
refused or cut; SECONDS: how long the attempt took).

    python3 client.py URL TOKEN DIR ACKS [ATTEMPTS]
"""
import glob, http.client, json, os, sys, time, urllib.parse

url, token, d, acks = sys.argv[1:5]
tries = open(sys.argv[5], "a") if len(sys.argv) > 5 else None


def attempt(i, code, t0):
    if tries:
        tries.write("%d %d %.3f %.3f\n" % (i, code, time.time() - t0, time.time()))
        tries.flush()


u = urllib.parse.urlparse(url)
files = sorted(glob.glob(os.path.join(d, "req-*.ndjson")))
log = open(acks, "a")
conn = None
for i, path in enumerate(files):
    body = open(path, "rb").read()
    nlines = body.count(b"\n")
    while True:
        t0 = time.time()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
            conn.request("POST", "/v1/events?end=true", body,
                         {"Authorization": "Bearer " + token,
                          "Content-Type": "application/x-ndjson"})
            resp = conn.getresponse()
            answer = resp.read()
        except (OSError, http.client.HTTPException):
            attempt(i, 0, t0)
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.05)
            continue
        attempt(i, resp.status, t0)
        if resp.status == 503:
            conn.close()
            conn = None
            time.sleep(0.05)
            continue
        if resp.status // 100 != 2:
            sys.stderr.write("request %d: HTTP %d %s\n" % (i, resp.status, answer[:300]))
            sys.exit(1)
        a = json.loads(answer)
        log.write("%d %d %d %d %.3f\n" % (i, a["accepted"], a["duplicates"], nlines, time.time()))
        log.flush()
        break
log.close()
