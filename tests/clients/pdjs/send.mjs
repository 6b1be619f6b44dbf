// send.mjs - one PagerDuty Events API v2 event sent to kintsugi with
// PagerDuty's own client, @pagerduty/pdjs, unchanged: its event() with the
// `server` option. pdjs always speaks https (https://SERVER/v2/enqueue), so
// this script puts a TLS front in the same process (a self-signed
// certificate that the test makes, trusted through the request's agent) and
// forwards every request byte for byte to kintsugi's plain HTTP.
//
//   KS_URL=http://127.0.0.1:PORT TLS_CERT=c.pem TLS_KEY=k.pem \
//   node send.mjs ROUTING_KEY ACTION [DEDUP_KEY] [DATA_JSON]
//
// ACTION is trigger, acknowledge or resolve; DATA_JSON is merged into the
// event (a trigger's payload, ...). Prints {"status": HTTP, "data": BODY,
// "content_type": ...} on one line; exits 0 when the request was answered.
import { event } from '@pagerduty/pdjs';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const [routingKey, action, dedupKey, extra] = process.argv.slice(2);
const target = new URL(process.env.KS_URL);
const cert = fs.readFileSync(process.env.TLS_CERT);
const key = fs.readFileSync(process.env.TLS_KEY);

const front = https.createServer({ cert, key }, (req, res) => {
  const up = http.request(
    {
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
    },
    (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    },
  );
  up.on('error', (e) => {
    res.writeHead(502);
    res.end(String(e));
  });
  req.pipe(up);
});

await new Promise((ok) => front.listen(0, '127.0.0.1', ok));
const port = front.address().port;

const data = { routing_key: routingKey, event_action: action };
if (dedupKey) data.dedup_key = dedupKey;
Object.assign(data, extra ? JSON.parse(extra) : {});

try {
  const r = await event({
    server: `127.0.0.1:${port}`,
    data,
    agent: new https.Agent({ ca: cert }),
  });
  console.log(
    JSON.stringify({
      status: r.status,
      content_type: r.headers.get('content-type'),
      data: r.data,
    }),
  );
  process.exitCode = 0;
} catch (e) {
  console.error(`pdjs: ${e}`);
  process.exitCode = 1;
} finally {
  front.close();
}
