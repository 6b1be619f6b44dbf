"""gen.py - the load of tests/integration/crash.sh: ROUNDS rounds of two hours
of event time, each with a WMS outage at one location (an incident, its
stop_order_import hook and the team's message), its recovery, inventory
updates of a channel and orders at the location. Every event has an id, so
that a request sent again after a crash is told apart as duplicates. Writes
the requests' bodies, LINES lines each, as DIR/req-NNNNNN.ndjson.

    python3 gen.py DIR ROUNDS LINES
"""
import datetime, json, os, sys

out, rounds, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
base = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
locs = ["paris", "lyon", "lille"]
chans = ["amazon", "ebay"]
n = 0
lines = []


def ev(t, **kw):
    global n
    n += 1
    kw["id"] = "crash-%07d" % n
    kw["ts"] = (base + t).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microseconds // 1000)
    lines.append(json.dumps(kw, separators=(",", ":")))


M = datetime.timedelta(minutes=1)
for r in range(rounds):
    start = datetime.timedelta(hours=2 * r)
    down = locs[r % len(locs)]
    ch = chans[r % len(chans)]
    for m in range(120):
        t = start + m * M
        for loc in locs:
            status = "down" if loc == down and 10 <= m < 50 else "up"
            ev(t, type="health", system="wms", location=loc, status=status)
        if m % 20 == 5:
            for s in range(20):
                ev(t + datetime.timedelta(milliseconds=s), type="inventory", channel=ch,
                   sku="SKU-%03d" % s, qty=10 + (r + m + s) % 7, batch="%s-%d-%d" % (ch, r, m))
        if 20 <= m < 23:
            ev(t + datetime.timedelta(milliseconds=500), type="order",
               order_id="o-%d-%d" % (r, m), channel=ch, status="accepted", location=down,
               customer="c-%d-%d" % (r, m), email="c%d%d@shop.example" % (r, m), value=25)

os.makedirs(out, exist_ok=True)
for i in range(0, len(lines), per):
    with open(os.path.join(out, "req-%06d.ndjson" % (i // per)), "w") as f:
        f.write("\n".join(lines[i:i + per]) + "\n")
print(len(lines), (len(lines) + per - 1) // per)
