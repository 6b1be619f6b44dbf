#!/usr/bin/env python3
"""Authoring aid for tests/scenarios: writes each scenario's events.ndjson and
expected.json. The test suite runs the committed files, not this script.

Expected values are derived here from SPEC section 3 by construction (the
instant of the closing event, last ok + 30 min, ...) or, for volume_drop, by a
brute-force oracle written straight from the SPEC's definition - never by
running kintsugi.
"""
import bisect
import json
import os
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = datetime(2026, 11, 22, 10, 0, 0, tzinfo=timezone.utc)


def ts(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def at(minutes=0, seconds=0, ms=0, base=T0):
    return base + timedelta(minutes=minutes, seconds=seconds, milliseconds=ms)


class S:
    def __init__(self, name):
        self.name = name
        self.lines = []
        self.exp = {"incidents": []}
        self.config = None

    def ev(self, **kw):
        self.lines.append(json.dumps(kw, separators=(",", ":")))
        return len(self.lines)

    def raw(self, text):
        self.lines.append(text)
        return len(self.lines)

    def write(self):
        d = os.path.join(HERE, self.name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "events.ndjson"), "wb") as f:
            f.write(("\n".join(self.lines) + "\n").encode("utf-8", "surrogateescape"))
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(self.exp, f, indent=1)
            f.write("\n")
        cp = os.path.join(d, "config.yaml")
        if self.config:
            with open(cp, "w") as f:
                f.write(self.config)
        elif os.path.exists(cp):
            os.remove(cp)


def inventory_update(s, channel, batch, t, qtys, source=None, step_ms=10):
    """One update: qtys is a list of (sku, qty). Returns the first event's time."""
    for i, (sku, q) in enumerate(qtys):
        kw = dict(type="inventory", ts=ts(t + timedelta(milliseconds=i * step_ms)),
                  channel=channel, sku=sku, qty=q, batch=batch)
        if source:
            kw["source"] = source
        s.ev(**kw)
    return t


def skus(n, prefix="SKU-"):
    return ["%s%04d" % (prefix, i) for i in range(1, n + 1)]


# ---------------------------------------------------------------- corruption
def zero_spike_p1():
    s = S("zero_spike_p1")
    names = skus(40)
    inventory_update(s, "amazon", "b1", at(0), [(k, 10) for k in names])
    s.ev(type="sync", ts=ts(at(1)), channel="amazon", status="ok", batch="b1")
    # 5 of 40 active to zero: 12.5 % > 10 %; changed 5 of 40 = 12.5 % < 20 %
    q = [(k, 0 if i < 5 else 10) for i, k in enumerate(names)]
    inventory_update(s, "amazon", "b2", at(15), q)
    s.ev(type="sync", ts=ts(at(16)), channel="amazon", status="ok", batch="b2")
    s.exp["incidents"].append(dict(
        type="data_corruption", severity="P1", initial_severity="P1", status="contained",
        contained_at=ts(at(16)), channels=["amazon"], skus=5, sku_list=names[:5],
        signals=["zero_spike"],
        started_at=ts(at(15)), detected_at=ts(at(16))))
    s.exp["restart_at"] = 41
    s.write()


def corruption_near_misses_quiet():
    s = S("corruption_near_misses_quiet")
    names = skus(40)
    inventory_update(s, "amazon", "b1", at(0), [(k, 10) for k in names])
    s.ev(type="sync", ts=ts(at(1)), channel="amazon", status="ok", batch="b1")
    # exactly 10 % zeroed (4 of 40) and exactly 20 % changed by > 50 % (4 zeroed + 4 to 100);
    # 10 -> 15 is exactly 50 %: not a change
    q = []
    for i, k in enumerate(names):
        if i < 4:
            q.append((k, 0))
        elif i < 8:
            q.append((k, 100))
        elif i < 20:
            q.append((k, 15))
        else:
            q.append((k, 10))
    inventory_update(s, "amazon", "b2", at(15), q)
    s.ev(type="sync", ts=ts(at(16)), channel="amazon", status="ok", batch="b2")
    # a channel with only 19 active SKUs may lose half of them: zero_spike needs >= 20 active,
    # distribution_shift >= 20 known
    small = skus(19, "EB-")
    inventory_update(s, "ebay", "e1", at(2), [(k, 7) for k in small])
    s.ev(type="sync", ts=ts(at(3)), channel="ebay", status="ok", batch="e1")
    inventory_update(s, "ebay", "e2", at(17), [(k, 0 if i < 10 else 7) for i, k in enumerate(small)])
    s.ev(type="sync", ts=ts(at(18)), channel="ebay", status="ok", batch="e2")
    # a SKU twice in one update counts once, with its last quantity: 5 SKUs go to 0 and back
    inventory_update(s, "amazon", "b3", at(30), [(k, 0) for k in names[20:25]])
    inventory_update(s, "amazon", "b3", at(30, 10), [(k, 10) for k in names[20:25]])
    s.ev(type="sync", ts=ts(at(31)), channel="amazon", status="ok", batch="b3")
    s.write()


def distribution_shift_p2():
    s = S("distribution_shift_p2")
    names = skus(50)
    inventory_update(s, "shopify", "s1", at(0), [(k, 100) for k in names], source="erp")
    # 11 of 50 known multiplied by 10: 22 % > 20 %; closed by the next batch's first event
    inventory_update(s, "shopify", "s2", at(15),
                     [(k, 1000 if i < 11 else 100) for i, k in enumerate(names)], source="erp")
    inventory_update(s, "shopify", "s3", at(30), [(k, 100) for k in names], source="erp")
    s.ev(type="sync", ts=ts(at(31)), channel="shopify", status="ok", batch="s3")
    s.exp["incidents"].append(dict(
        type="data_corruption", severity="P2", initial_severity="P2", channels=["shopify"],
        sources=["erp"], skus=11, signals=["distribution_shift"],
        started_at=ts(at(15)), detected_at=ts(at(30))))
    s.write()


def corruption_both_detectors_one_incident():
    s = S("corruption_both_detectors_one_incident")
    names = skus(40)
    inventory_update(s, "amazon", "b1", at(0), [(k, 10) for k in names])
    s.ev(type="sync", ts=ts(at(1)), channel="amazon", status="ok", batch="b1")
    # 10 of 40 to zero: 25 % zeroed and 25 % changed; closed by the end of the input
    q = [(k, 0 if i < 10 else 10) for i, k in enumerate(names)]
    inventory_update(s, "amazon", "b2", at(15), q)
    last = at(15) + timedelta(milliseconds=39 * 10)
    s.exp["incidents"].append(dict(
        type="data_corruption", severity="P1", initial_severity="P1", channels=["amazon"],
        skus=10, signals=["zero_spike", "distribution_shift"],
        started_at=ts(at(15)), detected_at=ts(last)))
    s.write()


def corruption_recovers_without_second_incident():
    s = S("corruption_recovers_without_second_incident")
    names = skus(30)
    inventory_update(s, "amazon", "b1", at(0), [(k, 20) for k in names])
    s.ev(type="sync", ts=ts(at(1)), channel="amazon", status="ok", batch="b1")
    inventory_update(s, "amazon", "b2", at(15), [(k, 0 if i < 6 else 20) for i, k in enumerate(names)])
    s.ev(type="sync", ts=ts(at(16)), channel="amazon", status="ok", batch="b2")
    # the source recovers: compared with the last known good values nothing changed
    inventory_update(s, "amazon", "b3", at(30), [(k, 20) for k in names])
    s.ev(type="sync", ts=ts(at(31)), channel="amazon", status="ok", batch="b3")
    # the same bad values again join the open incident instead of opening another
    inventory_update(s, "amazon", "b4", at(45), [(k, 0 if i < 6 else 20) for i, k in enumerate(names)])
    s.ev(type="sync", ts=ts(at(46)), channel="amazon", status="ok", batch="b4")
    s.exp["incidents"].append(dict(
        type="data_corruption", severity="P1", initial_severity="P1", channels=["amazon"],
        skus=12, signals=["zero_spike", "zero_spike"],
        started_at=ts(at(15)), detected_at=ts(at(16))))
    s.write()


def corruption_all_channels_p1():
    s = S("corruption_all_channels_p1")
    names = skus(25)
    inventory_update(s, "amazon", "a1", at(0), [(k, 8) for k in names], source="erp")
    s.ev(type="sync", ts=ts(at(1)), channel="amazon", status="ok", batch="a1")
    inventory_update(s, "ebay", "e1", at(2), [(k, 8) for k in names], source="erp")
    s.ev(type="sync", ts=ts(at(3)), channel="ebay", status="ok", batch="e1")
    # erp pushes x10 on 6 of 25 (24 %) to both channels: grouped by source, P1 once it covers
    # every known channel
    bad = [(k, 80 if i < 6 else 8) for i, k in enumerate(names)]
    inventory_update(s, "amazon", "a2", at(15), bad, source="erp")
    s.ev(type="sync", ts=ts(at(16)), channel="amazon", status="ok", batch="a2")
    inventory_update(s, "ebay", "e2", at(17), bad, source="erp")
    s.ev(type="sync", ts=ts(at(18)), channel="ebay", status="ok", batch="e2")
    s.exp["incidents"].append(dict(
        type="data_corruption", severity="P1", initial_severity="P2",
        channels=["amazon", "ebay"], sources=["erp"], skus=12,
        signals=["distribution_shift", "distribution_shift"],
        started_at=ts(at(15)), detected_at=ts(at(16)),
        escalations=[dict(at=ts(at(18)), severity="P1", **{"from": "P2"})]))
    s.write()


# ---------------------------------------------------------------- sync freshness
def sync_stale_escalates():
    s = S("sync_stale_escalates")
    # ebay syncs exactly every 30 min (the threshold is strict: never stale);
    # amazon's last ok sync is 10:15, then only rate_limit errors
    evs = []
    for m in range(0, 121, 30):
        evs.append((at(m), dict(channel="ebay", status="ok")))
    evs.append((at(0), dict(channel="amazon", status="ok")))
    evs.append((at(15), dict(channel="amazon", status="ok")))
    for m in range(20, 121, 10):
        evs.append((at(m, 1), dict(channel="amazon", status="error", error="rate_limit")))
    evs.sort(key=lambda x: x[0])
    for t, kw in evs:
        s.ev(type="sync", ts=ts(t), **kw)
    s.exp["incidents"].append(dict(
        type="sync_failure", severity="P2", initial_severity="P3", channels=["amazon"],
        started_at=ts(at(30)), detected_at=ts(at(45)), signals=["sync_freshness"],
        escalations=[dict(at=ts(at(105)), severity="P2", **{"from": "P3"})]))
    s.exp["restart_at"] = 6
    s.write()


def sync_recovers_before_escalation():
    s = S("sync_recovers_before_escalation")
    s.ev(type="sync", ts=ts(at(0)), channel="amazon", status="ok")
    s.ev(type="sync", ts=ts(at(0)), channel="ebay", status="ok")
    for m in range(15, 181, 15):
        s.ev(type="sync", ts=ts(at(m)), channel="ebay", status="ok")
        if m == 60:  # amazon stale since 10:30, back at 11:00: no escalation at 11:30
            s.ev(type="sync", ts=ts(at(m)), channel="amazon", status="ok")
        if m > 60:
            s.ev(type="sync", ts=ts(at(m)), channel="amazon", status="ok")
    s.exp["incidents"].append(dict(
        type="sync_failure", severity="P3", initial_severity="P3", channels=["amazon"],
        started_at=ts(at(15)), detected_at=ts(at(30)), signals=["sync_freshness"]))
    s.write()


def sync_all_channels_p1():
    s = S("sync_all_channels_p1")
    s.ev(type="sync", ts=ts(at(0)), channel="amazon", status="ok")
    s.ev(type="sync", ts=ts(at(10)), channel="ebay", status="ok")
    s.ev(type="tick", ts=ts(at(120)))
    # amazon stale at 10:30 (P3); ebay at 10:40 joins (within one interval) -> all known: P1;
    # the P1 acknowledgement SLA (15 min) from 10:40 is missed at 10:55
    s.exp["incidents"].append(dict(
        type="sync_failure", severity="P1", initial_severity="P3",
        channels=["amazon", "ebay"], started_at=ts(at(15)), detected_at=ts(at(30)),
        signals=["sync_freshness", "sync_freshness"],
        escalations=[dict(at=ts(at(40)), severity="P1", **{"from": "P3"})],
        sla=[ts(at(55))]))
    s.write()


def sync_stale_not_joining_late_channel():
    s = S("sync_stale_not_joining_late_channel")
    s.ev(type="sync", ts=ts(at(0)), channel="amazon", status="ok")
    s.ev(type="sync", ts=ts(at(16)), channel="ebay", status="ok")
    s.ev(type="sync", ts=ts(at(20)), channel="etsy", status="ok")
    for m in range(35, 60, 5):
        s.ev(type="sync", ts=ts(at(m)), channel="etsy", status="ok")
    s.ev(type="tick", ts=ts(at(60)))
    # amazon stale at 10:30; ebay at 10:46, more than one interval (15 min) after: new incident
    s.exp["incidents"].append(dict(type="sync_failure", severity="P3", channels=["amazon"],
                                   detected_at=ts(at(30)), started_at=ts(at(15))))
    s.exp["incidents"].append(dict(type="sync_failure", severity="P3", channels=["ebay"],
                                   detected_at=ts(at(46)), started_at=ts(at(31))))
    s.write()


# ---------------------------------------------------------------- systems
def wms_location_down():
    s = S("wms_location_down")
    for m in range(0, 41):
        if m <= 10:
            s.ev(type="health", ts=ts(at(m)), system="wms", location="paris", status="up")
        else:
            s.ev(type="health", ts=ts(at(m)), system="wms", location="paris", status="down")
        s.ev(type="health", ts=ts(at(m)), system="wms", location="lyon", status="up", latency_ms=40)
        if m % 5 == 0:  # exactly every 5 minutes: never down
            s.ev(type="health", ts=ts(at(m)), system="oms", status="up")
    s.exp["incidents"].append(dict(
        type="system_outage", severity="P1", initial_severity="P2", systems=["wms"],
        locations=["paris"], started_at=ts(at(10)), detected_at=ts(at(15)),
        signals=["system_down"],
        escalations=[dict(at=ts(at(30)), severity="P1", **{"from": "P2"})]))
    s.write()


def wms_complete_outage():
    s = S("wms_complete_outage")
    for m in range(0, 61):
        if m <= 10:
            s.ev(type="health", ts=ts(at(m)), system="wms", location="paris", status="up")
        if m <= 12:
            s.ev(type="health", ts=ts(at(m)), system="wms", location="lyon", status="up")
        s.ev(type="health", ts=ts(at(m, 30)), system="oms", status="up")
    # paris down at 10:15 (P2), lyon at 10:17 joins (within 5 min): every location -> P1;
    # the P1 ack SLA from 10:17 is missed at 10:32
    s.exp["incidents"].append(dict(
        type="system_outage", severity="P1", initial_severity="P2", systems=["wms"],
        locations=["paris", "lyon"], started_at=ts(at(10)), detected_at=ts(at(15)),
        signals=["system_down", "system_down"],
        escalations=[dict(at=ts(at(17)), severity="P1", **{"from": "P2"})],
        sla=[ts(at(32))]))
    s.write()


def system_never_up():
    s = S("system_never_up")
    s.ev(type="health", ts=ts(at(0)), system="erp", status="down")
    for m in range(1, 8):
        s.ev(type="health", ts=ts(at(m)), system="erp", status="down")
    # counted from its first check: down at 10:05
    s.exp["incidents"].append(dict(type="system_outage", severity="P2", systems=["erp"],
                                   locations=[], started_at=ts(at(0)), detected_at=ts(at(5))))
    s.write()


# ---------------------------------------------------------------- orders
def order_rejections():
    s = S("order_rejections")
    for i in range(20):
        st = "rejected" if i == 5 else "accepted"
        s.ev(type="order", ts=ts(at(i)), order_id="O-%d" % i, channel="amazon", status=st,
             customer="C-%d" % i, value=10.0, reason="unfulfillable" if st == "rejected" else None)
    # 20 orders, 1 rejected = exactly 5 %: nothing. The 21st, rejected: 2 of 21 > 5 %
    s.ev(type="order", ts=ts(at(20)), order_id="O-20", channel="amazon", status="rejected",
         customer="C-20", value=25.5)
    s.ev(type="order", ts=ts(at(21)), order_id="O-21", channel="amazon", status="rejected",
         customer="C-21", value=4.5)
    s.exp["incidents"].append(dict(
        type="order_rejections", severity="P2", initial_severity="P2", started_at=ts(at(5)),
        detected_at=ts(at(20)), signals=["order_rejections"],
        impact=dict(orders=3, customers=3, revenue=40.0)))
    s.write()


def order_rejections_window_slides():
    s = S("order_rejections_window_slides")
    # 1 rejected at 10:00 and 19 accepted: 1 of 20 = exactly 5 %. At 11:00 another rejection:
    # the one at exactly t - 60 min has left (t - 60 min, t], so again 1 of 20
    s.ev(type="order", ts=ts(at(0)), order_id="R-0", channel="ebay", status="rejected")
    for i in range(1, 20):
        s.ev(type="order", ts=ts(at(3 * i)), order_id="A-%d" % i, channel="ebay", status="accepted")
    s.ev(type="order", ts=ts(at(60)), order_id="R-1", channel="ebay", status="rejected")
    s.write()


# ---------------------------------------------------------------- supplier
def supplier_shortfall():
    s = S("supplier_shortfall")
    due = ts(at(-60 * 24))
    s.ev(type="receipt", ts=ts(at(0)), po="PO-1", supplier="acme", sku="A", expected=100,
         received=90, due=due, unit_cost=2.0)
    # cumulative 160 sellable of 200 expected: exactly 20 % short -> P2 (>= 20 %)
    s.ev(type="receipt", ts=ts(at(5)), po="PO-1", supplier="acme", sku="B", expected=100,
         received=70, unit_cost=3.0)
    s.ev(type="receipt", ts=ts(at(6)), po="PO-2", supplier="acme", sku="A", expected=10, received=12)
    s.ev(type="receipt", ts=ts(at(7)), po="PO-3", supplier="bolt", sku="C", expected=10,
         received=10, wrong=1)
    s.ev(type="receipt", ts=ts(at(8)), po="PO-4", supplier="bolt", sku="D", expected=10,
         received=20, damaged=10)
    s.ev(type="receipt", ts=ts(at(9)), po="PO-5", supplier="cord", sku="E", expected=100,
         received=81)
    s.exp["incidents"] = [
        dict(type="supplier_shortfall", severity="P2", initial_severity="P3",
             purchase_orders=["PO-1"], detected_at=ts(at(0)),
             escalations=[dict(at=ts(at(5)), severity="P2", **{"from": "P3"})],
             impact=dict(units=40, revenue=110.0)),
        dict(type="supplier_shortfall", severity="P2", initial_severity="P2",
             purchase_orders=["PO-3"], detected_at=ts(at(7))),
        dict(type="supplier_shortfall", severity="P2", initial_severity="P2",
             purchase_orders=["PO-4"], detected_at=ts(at(8))),
        dict(type="supplier_shortfall", severity="P3", initial_severity="P3",
             purchase_orders=["PO-5"], detected_at=ts(at(9)), impact=dict(units=19)),
    ]
    s.write()


# ---------------------------------------------------------------- complaints
def complaint_spike():
    s = S("complaint_spike")
    base = at(0)
    # SKU-B: 10 complaints, the first exactly 24 h before the last: never 10 in (t-24h, t]
    for i in range(10):
        t = base + timedelta(hours=24) * i / 9
        s.ev(type="complaint", ts=ts(t), reason="damaged", sku="SKU-B", customer="B%d" % i)
    # no sku: never counted
    for i in range(12):
        s.ev(type="complaint", ts=ts(at(24 * 60 + i)), reason="late", customer="L%d" % i)
    # SKU-A wrong_item: 9 then the 10th fires
    for i in range(10):
        s.ev(type="complaint", ts=ts(at(24 * 60 + 20 + i)), reason="wrong_item", sku="SKU-A",
             customer="A%d" % (i % 8), order_id="OA%d" % i, value=12.5)
    s.exp["incidents"].append(dict(
        type="fulfillment_error", severity="P3", sku_list=["SKU-A"], reason="wrong_item",
        started_at=ts(at(24 * 60 + 20)), detected_at=ts(at(24 * 60 + 29)),
        signals=["complaint_spike"], impact=dict(orders=10, customers=8, revenue=125.0)))
    s.write()


# ---------------------------------------------------------------- feed rejects
def feed_rejects():
    s = S("feed_rejects")
    bad_lines = []
    n = 0
    for i in range(100):
        t = ts(at(0, i))
        if i in (10, 30, 50, 70, 90):
            bad_lines.append(s.raw('{"type":"inventory","ts":"%s","channel":"amazon",'
                                   '"sku":"X%d","quantity":5,"source":"csv:feed"}' % (t, i)))
        else:
            s.ev(type="inventory", ts=t, channel="amazon", sku="X%d" % i, qty=5, source="csv:feed")
        n += 1
    # 5 of 100 = exactly 5 %: nothing; the 101st line rejected: 6 of 101 > 5 %
    bad_lines.append(s.raw('{"type":"inventory","ts":"%s","channel":"amazon","sku":"X100",'
                           '"quantity":5,"source":"csv:feed"}' % ts(at(0, 100))))
    s.exp["rejected_lines"] = bad_lines
    # rejected lines do not move the clock: the instant is the last accepted line's ts
    # (a rejected line counts at the clock, the ts of the accepted line before it)
    s.exp["incidents"].append(dict(type="feed_schema_change", severity="P2",
                                   sources=["csv:feed"], detected_at=ts(at(0, 99)),
                                   started_at=ts(at(0, 9))))
    s.write()


def far_future_ts_is_rejected():
    """SPEC section 2 makes the clock the largest ts; a valid ts ten years ahead
    would move it there for good. Lines further ahead of the clock than
    ts_horizon (7 d) are dead letters, move nothing, and count for feed_rejects
    as any rejected line does (here for the input's own name: no source)."""
    s = S("far_future_ts_is_rejected")
    bad_lines = []
    for i in range(100):
        if i in (10, 30, 50, 70, 90):
            far = at(0, i) + timedelta(days=3650)
            bad_lines.append(s.ev(type="inventory", ts=ts(far), channel="amazon",
                                  sku="X%d" % i, qty=5))
        else:
            s.ev(type="inventory", ts=ts(at(0, i)), channel="amazon", sku="X%d" % i, qty=5)
    bad_lines.append(s.ev(type="tick", ts="9999-12-31T23:59:59Z"))
    # exactly 7 d ahead of the clock (10:01:39) is within the horizon
    s.ev(type="tick", ts=ts(at(0, 99) + timedelta(days=7)))
    s.exp["rejected_lines"] = bad_lines
    s.exp["incidents"].append(dict(type="feed_schema_change", severity="P2",
                                   sources=["file:events.ndjson"], detected_at=ts(at(0, 99)),
                                   started_at=ts(at(0, 9))))
    # in those 7 days the channel reached 24 h of history with an empty hour
    first = int(at(0).timestamp() * 1000)
    sig = volume_signals([first + i * 1000 for i in range(100) if i % 20 != 10], first,
                         int((at(0, 99) + timedelta(days=7)).timestamp() * 1000))
    assert len(sig) == 1, sig
    d = datetime.fromtimestamp(sig[0] / 1000, tz=timezone.utc)
    s.exp["incidents"].append(dict(type="volume_drop", severity="P3", channels=["amazon"],
                                   detected_at=ts(d), started_at=ts(d - timedelta(hours=1)),
                                   signals=["volume_drop"]))
    s.write()


# ---------------------------------------------------------------- bad input
def bad_input_is_rejected_and_not_applied():
    s = S("bad_input_is_rejected_and_not_applied")
    s.ev(type="sync", ts=ts(at(0)), channel="amazon", status="ok")
    rej = []
    rej.append(s.raw('{"type":"sync","ts":"%s","channel":"amazon","status":"fine"}' % ts(at(10))))
    rej.append(s.raw('{"type":"sync","ts":"not-a-time","channel":"amazon","status":"ok"}'))
    rej.append(s.raw('{"type":"sync","ts":"%s","status":"ok"}' % ts(at(20))))
    rej.append(s.raw('{"type":"inventory","ts":"%s","channel":"amazon","sku":"A","qty":"12"}' % ts(at(20))))
    rej.append(s.raw('{"type":"inventory","ts":"%s","channel":"amazon","sku":"A","qty":-1}' % ts(at(20))))
    rej.append(s.raw('{"type":"inventory","ts":"%s","channel":"amazon","sku":"A","qty":1.5}' % ts(at(20))))
    rej.append(s.raw('{"type":"teleport","ts":"%s"}' % ts(at(20))))
    rej.append(s.raw('{"ts":"%s"}' % ts(at(20))))
    rej.append(s.raw('{"type":"sync","ts":"%s","channel":"amazon","status":"ok"' % ts(at(25))))
    rej.append(s.raw('[1,2,3]'))
    rej.append(s.raw('{"type":"order","ts":"%s","order_id":"O1","channel":"amazon","status":"accepted","lines":[{"sku":"A","qty":0}]}' % ts(at(20))))
    rej.append(s.raw('{"type":"health","ts":"%s","system":"wms","status":"up","latency_ms":"fast"}' % ts(at(20))))
    rej.append(s.raw('{"type":"feedback","ts":"%s","score":6}' % ts(at(20))))
    rej.append(s.raw('{"type":"metric","ts":"%s","name":"x","value":1,"labels":{"a":1}}' % ts(at(20))))
    rej.append(s.raw('{"type":"receipt","ts":"%s","po":"P","supplier":"S","sku":"A","expected":10}' % ts(at(20))))
    rej.append(s.raw('{"type":"sync","ts":"%s","channel":"amazon","status":"ok","note":"\udcff"}' % ts(at(25))))
    s.ev(type="tick", ts=ts(at(31)))
    s.ev(type="sync", ts=ts(at(32)), channel="amazon", status="ok", id="dup-1")
    s.ev(type="sync", ts=ts(at(32)), channel="amazon", status="ok", id="dup-1")
    s.exp["rejected_lines"] = rej
    s.exp["duplicates"] = 1
    # none of the rejected ok syncs refreshed the channel: stale at 10:30
    s.exp["incidents"].append(dict(type="sync_failure", severity="P3", channels=["amazon"],
                                   detected_at=ts(at(30)), started_at=ts(at(15))))
    s.write()


# ---------------------------------------------------------------- volume drop
def volume_oracle(times_ms, first_ms, last_clock_ms):
    """Brute force from the SPEC: first whole minute m with enough history at which the
    last hour holds fewer than 50 % of the average hourly count."""
    H = 3600000
    m = (first_ms + 59999) // 60000 * 60000
    while m < last_clock_ms:
        hist = m - first_ms
        if hist >= 24 * H:
            hour = sum(1 for t in times_ms if m - H < t <= m)
            week = sum(1 for t in times_ms if m - 7 * 24 * H < t <= m)
            hours = min(hist, 168 * H) / H
            if hour < 0.5 * week / hours:
                return m
        m += 60000
    return None


def volume_signals(times_ms, first_ms, last_clock_ms, window_min=60, baseline_min=7 * 24 * 60,
                   history_min=24 * 60, pct=50):
    """Every minute at which volume_drop signals: the condition holds at a whole
    minute with enough history and did not hold at the last minute judged
    (minutes without enough history are not judged), brute force from the
    SPEC's definition."""
    M = 60000
    times = sorted(times_ms)
    out, firing = [], False
    m = -(-first_ms // M) * M
    while m < last_clock_ms:
        hist = m - first_ms
        if hist >= history_min * M:
            lo_h, lo_w = bisect.bisect_right(times, m - window_min * M), \
                bisect.bisect_right(times, m - baseline_min * M)
            hi = bisect.bisect_right(times, m)
            hour, week = hi - lo_h, hi - lo_w
            cond = hour * 100 * min(hist, baseline_min * M) < pct * week * window_min * M
            if cond and not firing:
                out.append(m)
            firing = cond
        m += M
    return out


def volume_drop_after_a_long_silence():
    """A channel silent for longer than the baseline stops being evaluated
    minute by minute (nothing can change until its next event); when it
    sends again, it must judge exactly as if every minute had been: it
    signals once when the silence starts, is quiet while it comes back, and
    signals again when it stops again. The clock jumps 10 days, so the
    horizon is raised; restart_at saves and restores the engine mid-silence."""
    s = S("volume_drop_after_a_long_silence")
    s.config = "ts_horizon: 30d\n"
    base = datetime(2026, 11, 1, 0, 0, 0, tzinfo=timezone.utc)
    times = []
    for start in (0, 12):
        t = base + timedelta(days=start)
        while t <= base + timedelta(days=start + 2):
            times.append(t)
            t += timedelta(minutes=10)
    for i, x in enumerate(times[:289]):
        s.ev(type="inventory", ts=ts(x), channel="amazon", sku="SKU-%d" % (i % 20), qty=3)
    s.exp["restart_at"] = s.ev(type="tick", ts=ts(base + timedelta(days=10)))
    for i, x in enumerate(times[289:]):
        s.ev(type="inventory", ts=ts(x), channel="amazon", sku="SKU-%d" % (i % 20), qty=3)
    end = base + timedelta(days=17)
    s.ev(type="tick", ts=ts(end))
    ms = [int(x.timestamp() * 1000) for x in times]
    sig = volume_signals(ms, ms[0], int(end.timestamp() * 1000))
    assert len(sig) == 2, sig
    d = datetime.fromtimestamp(sig[0] / 1000, tz=timezone.utc)
    s.exp["incidents"].append(dict(type="volume_drop", severity="P3", channels=["amazon"],
                                   detected_at=ts(d), started_at=ts(d - timedelta(hours=1)),
                                   signals=["volume_drop", "volume_drop"]))
    s.write()


def volume_drop():
    s = S("volume_drop")
    base = datetime(2026, 11, 20, 0, 0, 0, tzinfo=timezone.utc)
    times = []
    t = base
    end_full = base + timedelta(hours=25)
    while t < end_full:
        times.append(t)
        t += timedelta(minutes=1)
    while t < base + timedelta(hours=28):
        times.append(t)
        t += timedelta(minutes=5)
    for i, x in enumerate(times):
        s.ev(type="inventory", ts=ts(x), channel="amazon", sku="SKU-%d" % (i % 50), qty=3)
    ms = [int(x.timestamp() * 1000) for x in times]
    m = volume_oracle(ms, ms[0], ms[-1])
    d = datetime.fromtimestamp(m / 1000, tz=timezone.utc)
    s.exp["incidents"].append(dict(type="volume_drop", severity="P3", channels=["amazon"],
                                   detected_at=ts(d), started_at=ts(d - timedelta(hours=1)),
                                   signals=["volume_drop"]))
    s.write()


def volume_steady_quiet():
    s = S("volume_steady_quiet")
    base = datetime(2026, 11, 20, 0, 0, 0, tzinfo=timezone.utc)
    t = base
    i = 0
    while t < base + timedelta(hours=30):
        s.ev(type="inventory", ts=ts(t), channel="ebay", sku="SKU-%d" % (i % 30), qty=4)
        t += timedelta(minutes=2)
        i += 1
    s.write()


# ---------------------------------------------------------------- metric rules
def metric_drop_rule():
    s = S("metric_drop_rule")
    s.config = ("metrics:\n  - name: conversion-drop\n    metric: conversion_rate\n"
                "    labels: {site: eu}\n    drop_pct: 30\n    baseline: 1h\n"
                "    min_samples: 3\n    severity: P2\n")
    vals = [40, 40, 40, 28, 26, 40]
    for i, v in enumerate(vals):
        s.ev(type="metric", ts=ts(at(5 * i)), name="conversion_rate", value=v, labels={"site": "eu"})
        s.ev(type="metric", ts=ts(at(5 * i, 1)), name="conversion_rate", value=1,
             labels={"site": "us"})
    # the 4th sample's baseline is 40: 28 is exactly 30 % below (not more); the 5th's is
    # (40 * 3 + 28) / 4 = 37 and 26 is 29.7 % below: nothing. "us" samples do not match.
    s.write()
    s2 = S("metric_drop_rule_fires")
    s2.config = s.config
    vals = [40, 40, 40, 27]
    for i, v in enumerate(vals):
        s2.ev(type="metric", ts=ts(at(5 * i)), name="conversion_rate", value=v, labels={"site": "eu"})
    s2.exp["incidents"].append(dict(type="metric_anomaly", severity="P2", rule="conversion-drop",
                                    detected_at=ts(at(15)), signals=["metric_rule"]))
    s2.write()


# ---------------------------------------------------------------- people and repeats
def resolve_then_repeat():
    s = S("resolve_then_repeat")
    names = skus(30)
    inventory_update(s, "amazon", "b1", at(0), [(k, 20) for k in names])
    s.ev(type="sync", ts=ts(at(1)), channel="amazon", status="ok", batch="b1")
    inventory_update(s, "amazon", "b2", at(15), [(k, 0 if i < 6 else 20) for i, k in enumerate(names)])
    n = s.ev(type="sync", ts=ts(at(16)), channel="amazon", status="ok", batch="b2")
    s.exp["actions"] = [
        dict(after_line=n, do="ack", id=1, by="alice", at=ts(at(20))),
        dict(after_line=n, do="status", id=1, arg="resolved", by="alice", at=ts(at(40))),
    ]
    # resolved: the zeros became the reference; restocking 6 SKUs from 0 is a shift of
    # 6 of 30 known (20 %, not more): nothing. Zeroing them again is a new incident that
    # repeats the first. Syncs keep flowing so that nothing else fires.
    s.ev(type="sync", ts=ts(at(41)), channel="amazon", status="ok")
    inventory_update(s, "amazon", "b3", at(60), [(k, 20) for k in names])
    s.ev(type="sync", ts=ts(at(61)), channel="amazon", status="ok", batch="b3")
    s.ev(type="sync", ts=ts(at(85)), channel="amazon", status="ok")
    s.ev(type="sync", ts=ts(at(110)), channel="amazon", status="ok")
    inventory_update(s, "amazon", "b4", at(120), [(k, 0 if i >= 24 else 20) for i, k in enumerate(names)])
    s.ev(type="sync", ts=ts(at(121)), channel="amazon", status="ok", batch="b4")
    s.ev(type="tick", ts=ts(at(150)))
    s.exp["incidents"] = [
        dict(type="data_corruption", severity="P1", status="resolved", detected_at=ts(at(16)),
             acknowledged_at=ts(at(20)), contained_at=ts(at(16)), resolved_at=ts(at(40)),
             owner="alice"),
        dict(type="data_corruption", severity="P1", status="contained",
             detected_at=ts(at(121)), started_at=ts(at(120)), repeat_of=1, sla=[ts(at(136))]),
    ]
    s.write()


def ack_meets_sla():
    s = S("ack_meets_sla")
    for m in range(0, 11):
        s.ev(type="health", ts=ts(at(m)), system="oms", status="up" if m == 0 else "down")
    n = s.ev(type="health", ts=ts(at(11)), system="oms", status="down")
    s.exp["actions"] = [dict(after_line=n, do="ack", id=1, by="bob", at=ts(at(30)))]
    s.ev(type="tick", ts=ts(at(200)))
    # P2 at 10:05, ack at 10:30 (within 1 h): no SLA entry; escalation to P1 at 10:20 moved the
    # ack deadline to 10:35, still met
    s.exp["incidents"].append(dict(
        type="system_outage", severity="P1", detected_at=ts(at(5)), acknowledged_at=ts(at(30)),
        escalations=[dict(at=ts(at(20)), severity="P1", **{"from": "P2"})], sla=[]))
    s.write()


# ---------------------------------------------------------------- containment (SPEC 5)
def corruption_setup(s):
    names = ["S%02d" % i for i in range(30)]
    for ch, off in (("amazon", 0), ("ebay", 1)):
        for i, k in enumerate(names):
            s.ev(type="inventory", ts=ts(at(0, off, i)), channel=ch, sku=k, qty=10 + i,
                 batch=ch + "-1", source="erp")
        s.ev(type="sync", ts=ts(at(0, 5)), channel=ch, status="ok", batch=ch + "-1")
    for i, k in enumerate(names):
        s.ev(type="stock", ts=ts(at(1)), sku=k, qty=10 + i)
    # amazon: 8 SKUs to zero, 2 rise to 500 (phantom stock), from a bad CSV import
    bad = [(k, 0 if i < 8 else (500 if i < 10 else 10 + i)) for i, k in enumerate(names)]
    inventory_update(s, "amazon", "amazon-2", at(15), bad, source="csv:bad")
    n_detect = s.ev(type="sync", ts=ts(at(15, 5)), channel="amazon", status="ok", batch="amazon-2")
    # ebay's next update is good, but every channel is paused: held in order
    inventory_update(s, "ebay", "ebay-2", at(16), [(k, 7) for k in names[:5]], source="erp")
    s.ev(type="sync", ts=ts(at(16, 5)), channel="ebay", status="ok", batch="ebay-2")
    # the bad source again: joins the incident and is held too
    inventory_update(s, "amazon", "amazon-3", at(17), bad, source="csv:bad")
    last = s.ev(type="sync", ts=ts(at(17, 5)), channel="amazon", status="ok", batch="amazon-3")
    return names, n_detect, last


def initial_feed(names):
    return [[k, 10 + i, "update"] for i, k in enumerate(names)]


def contain_corruption_holds_and_zeroes():
    s = S("contain_corruption_holds_and_zeroes")
    names, n_detect, last = corruption_setup(s)
    # an order placed in the corruption window for a phantom-stock SKU: 100 > 18 in stock
    s.ev(type="order", ts=ts(at(18)), order_id="O-1", channel="amazon", status="accepted",
         customer="c-1", value=250.0, lines=[{"sku": "S08", "qty": 100}])
    # an order for a SKU the bad update did not change: not the incident's
    s.ev(type="order", ts=ts(at(18, 30)), order_id="O-2", channel="amazon", status="accepted",
         customer="c-2", value=10.0, lines=[{"sku": "S20", "qty": 100}])
    s.exp["guard"] = {"amazon": {"paused": True, "held": 60, "incident": 1},
                      "ebay": {"paused": True, "held": 5, "incident": 1}}
    g = {k: 10 + i for i, k in enumerate(names)}
    g["S08"] = 0
    g["S09"] = 0
    s.exp["guarded"] = {"amazon": g, "ebay": {k: 10 + i for i, k in enumerate(names)}}
    s.exp["feed"] = {"amazon": initial_feed(names) + [["S08", 0, "phantom_stock"],
                                                      ["S09", 0, "phantom_stock"]],
                     "ebay": initial_feed(names)}
    s.exp["incidents"].append(dict(
        type="data_corruption", severity="P1", status="contained", detected_at=ts(at(15, 5)),
        contained_at=ts(at(15, 5)), sources=["csv:bad"], signals=["zero_spike", "distribution_shift",
                                                                  "zero_spike", "distribution_shift"],
        impact=dict(orders=1, customers=1, revenue=250.0, units=100),
        checklist={"pause_all": "done", "zero_risen": "done", "hold_fallen": "done",
                   "lineage": "done", "rollback": "pending", "release": "pending",
                   "cancel_orders": "pending"},
        timeline_contains=["Paused outbound sync on all 2 channels (amazon, ebay)",
                           "Zeroed 2 SKUs on amazon whose quantity rose",
                           "holding 8 SKUs whose quantity fell",
                           "Lineage: update amazon-2 of amazon from source csv:bad",
                           "Status contained"]))
    s.exp["restart_at"] = n_detect + 3
    s.write()


def contain_corruption_rollback_then_release():
    s = S("contain_corruption_rollback_then_release")
    names, n_detect, last = corruption_setup(s)
    s.exp["actions"] = [
        dict(after_line=last, do="release", by="alice", fails=True),
        dict(after_line=last, do="rollback", id=1, by="alice"),
        dict(after_line=last, do="release", by="alice"),
        dict(after_line=last, do="step", id=1, arg="spot_check", arg2="done", by="bob"),
    ]
    s.exp["guard"] = {"amazon": {"paused": False, "held": 0}, "ebay": {"paused": False, "held": 0}}
    # the rollback restores every affected SKU, phantom stock included: zeroing was
    # containment until the rollback
    g = {k: 10 + i for i, k in enumerate(names)}
    e = {k: 10 + i for i, k in enumerate(names)}
    for k in names[:5]:
        e[k] = 7
    s.exp["guarded"] = {"amazon": g, "ebay": e}
    # nothing corrupt leaked; ebay's held good update let through in order
    s.exp["feed"] = {"amazon": initial_feed(names) + [["S08", 0, "phantom_stock"],
                                                      ["S09", 0, "phantom_stock"],
                                                      ["S08", 18, "rollback"],
                                                      ["S09", 19, "rollback"]],
                     "ebay": initial_feed(names) + [[k, 7, "release"] for k in names[:5]]}
    s.exp["incidents"].append(dict(
        type="data_corruption", severity="P1", status="contained",
        checklist={"pause_all": "done", "rollback": "done", "release": "done",
                   "spot_check": "done", "reconcile_all": "pending"},
        # the first release (before the rollback) let ebay go and refused amazon
        timeline_contains=["Released ebay: 5 held values let through in order",
                           "Rolled back by alice: incident 1: 60 held corrupt values discarded; "
                           "2 SKUs set back to their last known good quantity (2 of them "
                           "phantom-stock SKUs zeroed at detection)",
                           "Released amazon", "Step spot_check done by bob"]))
    # a clean update after the release reaches the channel at once
    inventory_update(s, "amazon", "amazon-4", at(30), [("S08", 20)], source="erp")
    s.ev(type="sync", ts=ts(at(30, 5)), channel="amazon", status="ok", batch="amazon-4")
    g["S08"] = 20
    s.exp["feed"]["amazon"].append(["S08", 20, "update"])
    s.write()


def contain_corruption_accept():
    s = S("contain_corruption_accept")
    names, n_detect, last = corruption_setup(s)
    s.exp["actions"] = [
        dict(after_line=last, do="accept", id=1, by="alice"),
        dict(after_line=last, do="release", arg="amazon", by="alice"),
        dict(after_line=last, do="rollback", id=1, by="alice", fails=True),
    ]
    bad = {k: (0 if i < 8 else (500 if i < 10 else 10 + i)) for i, k in enumerate(names)}
    s.exp["guard"] = {"amazon": {"paused": False, "held": 0}, "ebay": {"paused": True, "held": 5}}
    s.exp["guarded"] = {"amazon": bad}
    # released in order: amazon-2's 30 values, then amazon-3's 30 (the same values: no change)
    rel = [[k, v, "release"] for k, v in bad.items() if v != 10 + names.index(k)]
    rel = [x for x in rel if x[0] not in ("S08", "S09")] + [["S08", 500, "release"], ["S09", 500, "release"]]
    rel.sort(key=lambda x: names.index(x[0]))
    s.exp["feed"] = {"amazon": initial_feed(names) + [["S08", 0, "phantom_stock"],
                                                      ["S09", 0, "phantom_stock"]] + rel}
    s.exp["incidents"].append(dict(type="data_corruption", severity="P1",
                                   timeline_contains=["Accepted by alice"]))
    s.write()


def contain_stale_channel():
    s = S("contain_stale_channel")
    s.config = ("roles:\n  lead: {approve: [zero_channel]}\n  agent: {approve: [cancel_orders]}\n"
                "people:\n  alice: {role: lead}\n  bob: {role: agent}\n")
    names = ["S%02d" % i for i in range(10)]
    inventory_update(s, "amazon", "a-1", at(0), [(k, i + 1) for i, k in enumerate(names)])
    s.ev(type="sync", ts=ts(at(0, 5)), channel="amazon", status="ok", batch="a-1")
    # the source keeps producing (a pipeline failure); pushes fail with auth errors
    for m in (10, 20, 40):
        s.ev(type="inventory", ts=ts(at(m)), channel="amazon", sku="S09", qty=10)
        s.ev(type="sync", ts=ts(at(m, 1)), channel="amazon", status="error", error="auth")
    s.ev(type="tick", ts=ts(at(50)))
    # started 10:15:05 (last ok + interval): the 2 h proposal is due at 12:15:05
    n = s.ev(type="tick", ts=ts(at(135, 5, 1)))
    s.exp["actions"] = [
        dict(after_line=n, do="approve", id=1, arg="zero_channel", by="bob", fails=True),
        dict(after_line=n, do="approve", id=1, arg="zero_channel", by="mallory", fails=True),
        dict(after_line=n, do="approve", id=1, arg="zero_channel", by="alice"),
    ]
    feed = [[k, i + 1, "update"] for i, k in enumerate(names)]
    feed += [[k, 0, "low_stock"] for k in names[:5]]
    # the single-SKU updates of S09 repeat its quantity (10): the feed carries changes only
    feed += [[k, 0, "zero_channel"] for k in names[5:]]
    s.exp["feed"] = {"amazon": feed}
    s.exp["incidents"].append(dict(
        type="sync_failure", severity="P2", detected_at=ts(at(30, 5)), started_at=ts(at(15, 5)),
        checklist={"identify_channels": "done", "source_check": "done", "zero_low_stock": "done",
                   "error_hints": "done", "zero_channel": "done"},
        escalations=[dict(at=ts(at(90, 5)), severity="P2", **{"from": "P3"})],
        timeline_contains=["the source is still generating events",
                           "Zeroed 5 low-stock SKUs (qty <= 5) on amazon",
                           "refresh the channel's API token",
                           "Proposed: zero all inventory on amazon",
                           "Approved zero_channel (alice, role lead)",
                           "Hook zero_channel requested"]))
    s.write()


def contain_outage_single_location():
    s = S("contain_outage_single_location")
    for m in range(0, 21):
        if m <= 2:
            s.ev(type="health", ts=ts(at(m)), system="wms", location="paris", status="up")
        s.ev(type="health", ts=ts(at(m)), system="wms", location="lyon", status="up")
    s.exp["incidents"].append(dict(
        type="system_outage", locations=["paris"], detected_at=ts(at(7)),
        checklist={"stop_order_import": "done", "reroute_orders": "proposed",
                   "reduce_location_inventory": "done", "hold_orders": "pending",
                   "pause_listings": "pending"},
        escalations=[dict(at=ts(at(22)), severity="P1", **{"from": "P2"})],
        timeline_contains=["Hook stop_order_import requested", "Proposed: reroute the orders",
                           "Hook reduce_channel_inventory requested"]))
    s.ev(type="tick", ts=ts(at(23)))
    s.write()


def contain_outage_complete():
    s = S("contain_outage_complete")
    for loc in ("paris", "lyon"):
        s.ev(type="health", ts=ts(at(0)), system="wms", location=loc, status="up")
    s.ev(type="tick", ts=ts(at(5, 0, 1)))
    s.ev(type="tick", ts=ts(at(4 * 60, 0, 1)))
    s.ev(type="tick", ts=ts(at(24 * 60, 0, 1)))
    s.exp["incidents"].append(dict(
        type="system_outage", severity="P1", locations=["paris", "lyon"], detected_at=ts(at(5)),
        checklist={"stop_order_import": "done", "hold_orders": "done",
                   "extend_handling_time": "done", "reduce_channel_inventory": "done",
                   "pause_listings": "proposed", "reroute_orders": "n/a"},
        # both locations go down at the same instant: every location -> P1 at once
        escalations=[dict(at=ts(at(5)), severity="P1", **{"from": "P2"})],
        timeline_contains=["Hook stop_order_import requested", "Hook hold_orders requested",
                           "Hook extend_handling_time requested",
                           "Hook reduce_channel_inventory requested",
                           "Proposed: pause listings", "proactive notice"]))
    s.write()


def contain_supplier_branches():
    s = S("contain_supplier_branches")
    s.ev(type="receipt", ts=ts(at(0)), po="PO-A", supplier="acme", sku="A", expected=100, received=90)
    s.ev(type="receipt", ts=ts(at(1)), po="PO-B", supplier="bolt", sku="B", expected=100, received=70)
    s.ev(type="receipt", ts=ts(at(2)), po="PO-C", supplier="cord", sku="C", expected=100,
         received=100, damaged=5)
    s.exp["incidents"] = [
        dict(type="supplier_shortfall", severity="P3", purchase_orders=["PO-A"],
             checklist={"record_discrepancy": "done", "quarantine_damaged": "n/a",
                        "accept_partial": "pending", "adjust_sellable": "done",
                        "file_claim": "pending", "contact_supplier": "n/a",
                        "alternate_source": "n/a", "reorder_earlier": "n/a"}),
        dict(type="supplier_shortfall", severity="P2", purchase_orders=["PO-B"],
             checklist={"accept_partial": "n/a", "adjust_sellable": "n/a", "file_claim": "n/a",
                        "contact_supplier": "done", "alternate_source": "pending",
                        "reorder_earlier": "pending"},
             timeline_contains=["Hook notify_supplier requested"]),
        dict(type="supplier_shortfall", severity="P3", purchase_orders=["PO-C"],
             checklist={"quarantine_damaged": "done", "adjust_sellable": "done"},
             timeline_contains=["Quarantined 5 damaged units of PO-C"]),
    ]
    s.write()


def grouping_boundaries():
    s = S("grouping_boundaries")
    # amazon stale at 10:30; ebay's deadline 10:45 is exactly one interval later: joins.
    # etsy's deadline is 1 ms later than that: a new incident.
    s.ev(type="sync", ts=ts(at(0)), channel="amazon", status="ok")
    s.ev(type="sync", ts=ts(at(15)), channel="ebay", status="ok")
    s.ev(type="sync", ts=ts(at(15, 0, 1)), channel="etsy", status="ok")
    s.ev(type="sync", ts=ts(at(16)), channel="walmart", status="ok")
    for m in range(20, 47, 2):
        s.ev(type="sync", ts=ts(at(m)), channel="walmart", status="ok")
    # wms: paris down at 11:05; lyon exactly 5 min later joins; nice 1 ms later does not
    for loc, last in (("paris", at(60)), ("lyon", at(65)), ("nice", at(65, 0, 1)), ("rome", at(60))):
        s.ev(type="health", ts=ts(last), system="wms", location=loc, status="up")
    for m in range(61, 92):
        s.ev(type="health", ts=ts(at(m)), system="wms", location="rome", status="up")
        if m == 75:
            s.ev(type="sync", ts=ts(at(75)), channel="walmart", status="ok")
    s.exp["incidents"] = [
        dict(type="sync_failure", channels=["amazon", "ebay"], detected_at=ts(at(30)),
             started_at=ts(at(15)), signals=["sync_freshness", "sync_freshness"],
             escalations=[dict(at=ts(at(90)), severity="P2", **{"from": "P3"})]),
        dict(type="sync_failure", channels=["etsy"], detected_at=ts(at(45, 0, 1)),
             started_at=ts(at(30, 0, 1))),
        dict(type="system_outage", locations=["paris", "lyon"], detected_at=ts(at(65)),
             signals=["system_down", "system_down"]),
        dict(type="system_outage", locations=["nice"], detected_at=ts(at(70, 0, 1))),
    ]
    s.exp["incidents"][2]["escalations"] = [dict(at=ts(at(80)), severity="P1", **{"from": "P2"})]
    s.exp["incidents"][3]["escalations"] = [dict(at=ts(at(85, 0, 1)), severity="P1",
                                                 **{"from": "P2"})]
    s.ev(type="tick", ts=ts(at(91, 30)))
    s.write()


# ---------------------------------------------------------------- per-SKU holding (issue 9)
def check(s, after, label, guarded=None, guard=None):
    """A check of the guard at this point of the run, in the order of the actions."""
    c = dict(after_line=after, do="check", label=label)
    if guarded is not None:
        c["guarded"] = {"amazon": guarded}
    if guard is not None:
        c["guard"] = {"amazon": guard}
    s.exp.setdefault("actions", []).append(c)


def act(s, after, what, **kw):
    s.exp.setdefault("actions", []).append(dict(after_line=after, do=what, by="alice", **kw))


def held_list(skus_, sent, kept):
    return [dict(sku=k, held=sent, last_good=kept) for k in skus_]


def catalogue(s, names, base):
    """upd(batch, t, q, sync_t): an update of every SKU of amazon from erp (q's value, else
    base), closed by an ok sync; returns the sync's line."""
    def upd(batch, t, q, sync_t):
        inventory_update(s, "amazon", batch, t, [(k, q.get(k, base)) for k in names], source="erp")
        return s.ev(type="sync", ts=ts(sync_t), channel="amazon", status="ok", batch=batch)
    return upd


def rollback_and_release(s, n, shown, held_after_rollback, held_skus):
    """Rollback and release after line n: the affected SKUs show `shown` after each."""
    act(s, n, "rollback", id=1)
    check(s, n, "after rollback", shown,
          {"paused": True, "held": held_after_rollback, "held_skus": held_skus})
    act(s, n, "release")
    check(s, n, "after release", shown, {"paused": False, "held": 0, "held_skus": held_skus})


def clean_value_then_accept(s, n, after_clean, still_held, sent, kept):
    """After line n (an update with a clean value for some SKUs): `still_held` are held per
    SKU (sent, kept at kept); then accept lets them through. Returns the quantities after."""
    check(s, n, "after a later clean value", after_clean,
          {"paused": False, "held": 0, "held_skus": len(still_held),
           "held_values": held_list(still_held, sent, kept)})
    act(s, n, "accept", id=1)
    after_accept = dict(after_clean, **{k: sent for k in still_held})
    check(s, n, "after accept", after_accept,
          {"paused": False, "held": 0, "held_skus": 0, "held_values": []})
    return after_accept


def contain_corruption_zero_source_keeps_sending():
    """A zero spike whose importer keeps sending four of the five zeros in an update that
    crosses no threshold (4 of 40 = exactly 10 %): those values are held per SKU at their
    last known good quantity, through the rollback and the release, until a value in the
    normal range arrives or a person accepts them."""
    s = S("contain_corruption_zero_source_keeps_sending")
    names = skus(40)
    aff = names[:5]
    upd = catalogue(s, names, 10)
    upd("b1", at(0), {}, at(1))
    n2 = upd("b2", at(15), {k: 0 for k in aff}, at(16))
    check(s, n2, "before rollback", {k: 10 for k in aff},
          {"paused": True, "held": 40, "held_skus": 0})
    n3 = upd("b3", at(30), {k: 0 for k in aff[:4]}, at(31))
    check(s, n3, "source keeps sending, before rollback", {k: 10 for k in aff},
          {"paused": True, "held": 76, "held_skus": 4, "held_values": held_list(aff[:4], 0, 10)})
    rollback_and_release(s, n3, {k: 10 for k in aff}, 36, 4)
    # later: SKU-0001 at 8 (the normal range), the other three still at zero (3 of 40)
    n4 = upd("b4", at(45), dict({k: 0 for k in aff[1:4]}, **{"SKU-0001": 8}), at(46))
    after = clean_value_then_accept(s, n4, dict({k: 10 for k in aff}, **{"SKU-0001": 8}),
                                    aff[1:4], 0, 10)
    s.exp["guarded"] = {"amazon": dict({k: 10 for k in names}, **after)}
    s.exp["guard"] = {"amazon": {"paused": False, "held": 0, "held_skus": 0}}
    # not one zero reached the channel before the person accepted them
    s.exp["feed"] = {"amazon": [[k, 10, "update"] for k in names] + [["SKU-0001", 8, "update"]] +
                     [[k, 0, "accepted"] for k in aff[1:4]]}
    s.exp["incidents"].append(dict(
        type="data_corruption", severity="P1", status="contained", signals=["zero_spike"],
        skus=5, sku_list=aff,
        timeline_contains=[
            "Paused outbound sync on all 1 channel (amazon)",
            "4 values of update b3 of amazon held at their last known good quantity: source erp "
            "still sends them the corrupt way (SKU-0001 0 (kept at 10), SKU-0002 0 (kept at 10), "
            "SKU-0003 0 (kept at 10), SKU-0004 0 (kept at 10))",
            "Rolled back by alice: incident 1: 40 held corrupt values discarded; 0 SKUs set back "
            "to their last known good quantity, 4 already there, 1 with a clean value from the "
            "source since (it stands); 4 values held per SKU stay at "
            "their last known good quantity until a value in the normal range arrives, a person "
            "accepts them or the incident is resolved",
            "Released amazon: 36 held values let through in order",
            "3 values of update b4 of amazon held at their last known good quantity",
            "1 SKU of amazon held per SKU is back in the normal range in update b4 "
            "(SKU-0001 8)",
            "Accepted by alice: the flagged values are correct; 3 SKUs take them"]))
    s.exp["restart_at"] = n3
    s.write()


def contain_corruption_shift_source_keeps_sending():
    """A x10 distribution shift (12 of 40 SKUs, last known good 55) whose importer sends the
    same corrupt update again (it joins the incident and is held) and then keeps 8 of the 12
    at x10 in an update that crosses no threshold (8 of 40 = exactly 20 %). The rollback
    restores the phantom-stock SKUs to 55; the 8 stay held per SKU at 55 after the release."""
    s = S("contain_corruption_shift_source_keeps_sending")
    names = skus(40)
    aff = names[:12]
    upd = catalogue(s, names, 55)
    upd("b1", at(0), {}, at(1))
    n2 = upd("b2", at(15), {k: 550 for k in aff}, at(16))
    check(s, n2, "before rollback", {k: 0 for k in aff},
          {"paused": True, "held": 40, "held_skus": 0})
    n3 = upd("b3", at(20), {k: 550 for k in aff}, at(21))
    check(s, n3, "the same corrupt update again", {k: 0 for k in aff},
          {"paused": True, "held": 80, "held_skus": 0})
    n4 = upd("b4", at(30), {k: 550 for k in aff[:8]}, at(31))
    check(s, n4, "source keeps sending, before rollback", {k: 0 for k in aff},
          {"paused": True, "held": 112, "held_skus": 8,
           "held_values": held_list(aff[:8], 550, 55)})
    rollback_and_release(s, n4, {k: 55 for k in aff}, 32, 8)
    n5 = upd("b5", at(45), dict({k: 550 for k in aff[1:8]}, **{"SKU-0001": 60}), at(46))
    after = clean_value_then_accept(s, n5, dict({k: 55 for k in aff}, **{"SKU-0001": 60}),
                                    aff[1:8], 550, 55)
    s.exp["guarded"] = {"amazon": dict({k: 55 for k in names}, **after)}
    s.exp["feed"] = {"amazon": [[k, 55, "update"] for k in names] +
                     [[k, 0, "phantom_stock"] for k in aff] +
                     [[k, 55, "rollback"] for k in aff] + [["SKU-0001", 60, "update"]] +
                     [[k, 550, "accepted"] for k in aff[1:8]]}
    s.exp["incidents"].append(dict(
        type="data_corruption", severity="P2", status="contained",
        signals=["distribution_shift", "distribution_shift"],
        timeline_contains=[
            "Zeroed 12 SKUs on amazon whose quantity rose",
            "8 values of update b4 of amazon held at their last known good quantity: source erp "
            "still sends them the corrupt way (SKU-0001 550 (kept at 55)",
            "Rolled back by alice: incident 1: 80 held corrupt values discarded; 12 SKUs set back "
            "to their last known good quantity (12 of them phantom-stock SKUs zeroed at "
            "detection), 0 already there; 8 values held per SKU stay",
            "7 values of update b5 of amazon held at their last known good quantity",
            "Accepted by alice"]))
    s.exp["restart_at"] = n4
    s.write()


def contain_corruption_shift_again_after_rollback():
    """The x10 importer sends the whole corrupt update again after the rollback and the
    release: it joins the incident (a second signal), but a person has already rolled the
    incident back, so its changed values are held per SKU at 55 and the channel is not
    paused again; a later clean value and the accept follow."""
    s = S("contain_corruption_shift_again_after_rollback")
    names = skus(40)
    aff = names[:12]
    upd = catalogue(s, names, 55)
    upd("b1", at(0), {}, at(1))
    n2 = upd("b2", at(15), {k: 550 for k in aff}, at(16))
    check(s, n2, "before rollback", {k: 0 for k in aff},
          {"paused": True, "held": 40, "held_skus": 0})
    rollback_and_release(s, n2, {k: 55 for k in aff}, 0, 0)
    # the same corrupt update again, and SKU-0040 moves within the normal range
    n3 = upd("b3", at(30), dict({k: 550 for k in aff}, **{"SKU-0040": 50}), at(31))
    check(s, n3, "corrupt again after the release", {k: 55 for k in aff},
          {"paused": False, "held": 0, "held_skus": 12, "held_values": held_list(aff, 550, 55)})
    # later: SKU-0001 at 60 and SKU-0009..0012 back at 55 (the normal range), 7 still at x10
    # (7 of 40: no threshold crossed)
    n4 = upd("b4", at(45), dict({k: 550 for k in aff[1:8]}, **{"SKU-0001": 60, "SKU-0040": 50}),
             at(46))
    after = clean_value_then_accept(s, n4, dict({k: 55 for k in aff}, **{"SKU-0001": 60}),
                                    aff[1:8], 550, 55)
    s.exp["guarded"] = {"amazon": dict({k: 55 for k in names}, **after, **{"SKU-0040": 50})}
    s.exp["feed"] = {"amazon": [[k, 55, "update"] for k in names] +
                     [[k, 0, "phantom_stock"] for k in aff] +
                     [[k, 55, "rollback"] for k in aff] +
                     [["SKU-0040", 50, "update"], ["SKU-0001", 60, "update"]] +
                     [[k, 550, "accepted"] for k in aff[1:8]]}
    s.exp["incidents"].append(dict(
        type="data_corruption", severity="P2", status="contained",
        signals=["distribution_shift", "distribution_shift"],
        timeline_contains=[
            "Rolled back by alice: incident 1: 40 held corrupt values discarded; 12 SKUs set back "
            "to their last known good quantity (12 of them phantom-stock SKUs zeroed at "
            "detection), 0 already there",
            "Released amazon",
            "Update b3 of amazon from source erp is corrupt again after the rollback: 12 values "
            "held at their last known good quantity (SKU-0001 550 (kept at 55)",
            "the other 28 go through as a clean update's would; the channel is not paused again",
            "7 values of update b4 of amazon held at their last known good quantity",
            "5 SKUs of amazon held per SKU are back in the normal range in update b4 "
            "(SKU-0001 60, SKU-0009 55, SKU-0010 55, SKU-0011 55, SKU-0012 55)",
            "Accepted by alice: the flagged values are correct; 7 SKUs"]))
    s.exp["restart_at"] = n3
    s.write()


def contain_corruption_source_recovers():
    """A zero spike (5 of 40 to zero) with 2 SKUs risen to 100, whose source sends the right
    values in its next update: nothing is held per SKU; the rollback restores the two
    phantom-stock SKUs to their last known good 10 (a held clean value replaced their
    flagged one); later values go through as usual."""
    s = S("contain_corruption_source_recovers")
    names = skus(40)
    aff = names[:7]
    upd = catalogue(s, names, 10)
    upd("b1", at(0), {}, at(1))
    n2 = upd("b2", at(15), dict({k: 0 for k in aff[:5]}, **{k: 100 for k in aff[5:]}), at(16))
    contained = dict({k: 10 for k in aff[:5]}, **{k: 0 for k in aff[5:]})
    check(s, n2, "before rollback", contained, {"paused": True, "held": 40, "held_skus": 0})
    n3 = upd("b3", at(30), {}, at(31))
    check(s, n3, "source recovered, before rollback", contained,
          {"paused": True, "held": 80, "held_skus": 0})
    rollback_and_release(s, n3, {k: 10 for k in aff}, 40, 0)
    n4 = upd("b4", at(45), {"SKU-0001": 12}, at(46))
    after = clean_value_then_accept(s, n4, dict({k: 10 for k in aff}, **{"SKU-0001": 12}), [],
                                    0, 0)
    s.exp["guarded"] = {"amazon": dict({k: 10 for k in names}, **after)}
    s.exp["feed"] = {"amazon": [[k, 10, "update"] for k in names] +
                     [[k, 0, "phantom_stock"] for k in aff[5:]] +
                     [[k, 10, "rollback"] for k in aff[5:]] + [["SKU-0001", 12, "update"]]}
    s.exp["incidents"].append(dict(
        type="data_corruption", severity="P1", status="contained", signals=["zero_spike"],
        timeline_contains=[
            "Zeroed 2 SKUs on amazon whose quantity rose",
            "Rolled back by alice: incident 1: 40 held corrupt values discarded; 2 SKUs set back "
            "to their last known good quantity (2 of them phantom-stock SKUs zeroed at "
            "detection)",
            "Released amazon: 40 held values let through in order",
            "Accepted by alice: the flagged values are correct; 0 SKUs"]))
    s.write()


def contain_corruption_resolve_ends_holding():
    """Resolving the incident is the statement that the source is fixed: the values held per
    SKU are dropped (the channel keeps their last known good quantity) and the SKUs' next
    values are judged with their update again, one zero among 40 going through."""
    s = S("contain_corruption_resolve_ends_holding")
    names = skus(40)
    aff = names[:5]
    upd = catalogue(s, names, 10)
    upd("b1", at(0), {}, at(1))
    upd("b2", at(15), {k: 0 for k in aff}, at(16))
    n3 = upd("b3", at(30), {k: 0 for k in aff[:4]}, at(31))
    rollback_and_release(s, n3, {k: 10 for k in aff}, 36, 4)
    act(s, n3, "status", id=1, arg="resolved")
    check(s, n3, "after resolve", {k: 10 for k in aff},
          {"paused": False, "held_skus": 0, "held_values": []})
    upd("b4", at(45), dict({k: 9 for k in aff[1:4]}, **{"SKU-0001": 0}), at(46))
    s.exp["guarded"] = {"amazon": dict({k: 10 for k in names}, **{k: 9 for k in aff[1:4]},
                                       **{"SKU-0001": 0})}
    s.exp["feed"] = {"amazon": [[k, 10, "update"] for k in names] + [["SKU-0001", 0, "update"]] +
                     [[k, 9, "update"] for k in aff[1:4]]}
    s.exp["incidents"].append(dict(
        type="data_corruption", severity="P1", status="resolved",
        timeline_contains=[
            "4 values of update b3 of amazon held at their last known good quantity",
            "Resolved, so the source is taken as fixed: the per-SKU holding on amazon ends (5 "
            "SKUs no longer watched); 4 values held per SKU since the rollback are dropped and "
            "the channel keeps their last known good quantity",
            "The flagged quantities of 0 SKUs are now the last known good reference"]))
    s.write()

if __name__ == "__main__":
    for fn in [zero_spike_p1, corruption_near_misses_quiet, distribution_shift_p2,
               corruption_both_detectors_one_incident, corruption_recovers_without_second_incident,
               corruption_all_channels_p1, sync_stale_escalates, sync_recovers_before_escalation,
               sync_all_channels_p1, sync_stale_not_joining_late_channel, wms_location_down,
               wms_complete_outage, system_never_up, order_rejections,
               order_rejections_window_slides, supplier_shortfall, complaint_spike, feed_rejects,
               far_future_ts_is_rejected, bad_input_is_rejected_and_not_applied, volume_drop,
               volume_drop_after_a_long_silence, volume_steady_quiet,
               metric_drop_rule, resolve_then_repeat, ack_meets_sla,
               contain_corruption_holds_and_zeroes, contain_corruption_rollback_then_release,
               contain_corruption_accept, contain_stale_channel, contain_outage_single_location,
               contain_outage_complete, contain_supplier_branches, grouping_boundaries,
               contain_corruption_zero_source_keeps_sending,
               contain_corruption_shift_source_keeps_sending, contain_corruption_source_recovers,
               contain_corruption_resolve_ends_holding,
               contain_corruption_shift_again_after_rollback]:
        fn()
