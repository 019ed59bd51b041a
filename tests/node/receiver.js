// A webhook receiver that checks mopay's signatures with Stripe's own library, exactly as a
// merchant's server would: stripe.webhooks.constructEvent(body, header, secret), the secret
// being the string mopay showed. Loopback only; run by tests/api/test_webhooks.c.
//
//   POST /secrets/<label>   body: the secret, as mopay showed it (the test tells us); "hex:<64 hex>"
//                           for a secret made before they were text, checked by our own HMAC
//                           over the 32 bytes, since no Stripe library takes such a key
//   POST /hooks/<label>     a webhook: 200 when it verifies with <label>'s secret, 400 when not
//   GET  /results           {"<label>": {"ok": [event ids], "bad": [reasons]}}
// It prints "port N" once it listens, and exits when its stdin closes.
'use strict';
const crypto = require('node:crypto');
const http = require('node:http');
const Stripe = require('stripe');

const stripe = new Stripe('sk_test_unused'); // constructEvent makes no request
const secrets = new Map();
const results = {};

function result(label) {
  if (!results[label]) results[label] = { ok: [], bad: [] };
  return results[label];
}

function legacyEvent(body, header, hex) {
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=')));
  const mac = crypto.createHmac('sha256', Buffer.from(hex, 'hex')).update(parts.t + '.').update(body).digest('hex');
  if (!parts.v1 || !crypto.timingSafeEqual(Buffer.from(mac), Buffer.from(parts.v1.padEnd(mac.length))))
    throw new Error('legacy signature does not match');
  return JSON.parse(body.toString('utf8'));
}

function verify(label, body, header) {
  const r = result(label);
  const secret = secrets.get(label);
  try {
    if (secret === undefined) throw new Error('no secret for ' + label);
    const event = secret.startsWith('hex:') ? legacyEvent(body, header, secret.slice(4))
                                            : stripe.webhooks.constructEvent(body, header, secret);
    r.ok.push(event.id);
    return 200;
  } catch (e) {
    r.bad.push(String(e.message || e));
    return 400;
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const [, kind, label] = req.url.split('/');
    let status = 404;
    let reply = '';
    if (req.method === 'POST' && kind === 'secrets' && label) {
      secrets.set(label, body.toString('utf8'));
      status = 204;
    } else if (req.method === 'POST' && kind === 'hooks' && label) {
      status = verify(label, body, req.headers['mopay-signature'] || '');
    } else if (req.method === 'GET' && kind === 'results') {
      status = 200;
      reply = JSON.stringify(results);
    }
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(reply);
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write('port ' + server.address().port + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
