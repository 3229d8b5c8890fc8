#!/usr/bin/env node
'use strict';
// Self-test of the fake router: starts server.js on a free port in a temp
// directory and drives it with grpc-js clients acting as gateways. Exits
// non-zero on any failure; the last line is "N passed, N failed".

const fs = require('fs');
const os = require('os');
const net = require('net');
const path = require('path');
const crypto = require('crypto');
const { spawn } = require('child_process');
const grpc = require('@grpc/grpc-js');
const P = require('./proto');

const TIMEOUT = 5000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// The server process

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-fakerouter-'));
const eventsPath = path.join(dir, 'events.jsonl');
const controlPath = path.join(dir, 'control.sock');
let server = null;
let serverOut = '';

function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(
      process.execPath,
      [path.join(__dirname, 'server.js'), '--port', '0', '--events', eventsPath, '--control', controlPath],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const timer = setTimeout(() => reject(new Error(`server not ready:\n${serverOut}`)), 10000);
    const onData = (d) => {
      serverOut += d;
      const m = /fake router listening on 127\.0\.0\.1:(\d+)/.exec(serverOut);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', (d) => (serverOut += d));
    server.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited ${code}:\n${serverOut}`));
    });
  });
}

// ---------------------------------------------------------------------------
// Events: read new complete lines; each event is taken once.

const ev = {
  offset: 0,
  pending: [],
  poll() {
    let text;
    try {
      const fd = fs.openSync(eventsPath, 'r');
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(size - this.offset);
      fs.readSync(fd, buf, 0, buf.length, this.offset);
      fs.closeSync(fd);
      text = buf.toString('utf8');
    } catch (e) {
      return;
    }
    const last = text.lastIndexOf('\n');
    if (last < 0) return;
    this.offset += Buffer.byteLength(text.slice(0, last + 1));
    for (const line of text.slice(0, last).split('\n')) this.pending.push(JSON.parse(line));
  },
  match(e, name, filter) {
    if (e.ev !== name) return false;
    for (const k of Object.keys(filter || {})) if (e[k] !== filter[k]) return false;
    return true;
  },
  async wait(name, filter, timeout = TIMEOUT) {
    const deadline = Date.now() + timeout;
    for (;;) {
      this.poll();
      const i = this.pending.findIndex((e) => this.match(e, name, filter));
      if (i >= 0) return this.pending.splice(i, 1)[0];
      if (Date.now() > deadline) {
        throw new Error(`no event ${name} ${JSON.stringify(filter || {})}; pending: ` +
          JSON.stringify(this.pending.slice(-5)));
      }
      await sleep(10);
    }
  },
  count(name, filter) {
    this.poll();
    return this.pending.filter((e) => this.match(e, name, filter)).length;
  },
};

// ---------------------------------------------------------------------------
// Control socket

function cmd(obj) {
  return new Promise((resolve, reject) => {
    const c = net.connect(controlPath);
    let buf = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(JSON.stringify(obj) + '\n'));
    c.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        c.end();
        resolve(JSON.parse(buf.slice(0, nl)));
      }
    });
    c.on('error', reject);
  });
}

// ---------------------------------------------------------------------------
// A gateway: one route stream, messages encoded canonically by hand.

let client = null;

class Gateway {
  constructor(kp) {
    this.kp = kp || P.newKeypair();
    this.hex = this.kp.binary.toString('hex');
    this.session = null;
    this.down = [];
    this.waiters = [];
    this.status = null;
    this.ended = false;
    const id = (b) => b;
    this.call = client.makeBidiStreamRequest(P.METHOD_PATH, id, id);
    this.call.on('data', (b) => {
      const { which, inner } = P.splitEnvelopeDown(b);
      const types = { packet: P.T.packetDown, session_offer: P.T.sessionOffer, packet_ack: P.T.packetAck };
      this.down.push({ which, msg: which ? types[which].decode(inner) : null });
      this.wake();
    });
    this.call.on('error', () => {});
    this.call.on('end', () => {
      this.ended = true;
      this.wake();
    });
    this.call.on('status', (s) => {
      this.status = s;
      this.wake();
    });
  }
  wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }
  async until(pred, what, timeout = TIMEOUT) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const v = pred();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
      await new Promise((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  async next(timeout) {
    await this.until(() => this.down.length > 0, 'a down envelope', timeout);
    return this.down.shift();
  }
  async waitStatus(timeout) {
    return this.until(() => this.status, 'the call status', timeout);
  }
  sendRaw(fieldNo, inner) {
    this.call.write(P.frameField(fieldNo, inner));
  }
  registerMsg(over) {
    const m = Object.assign(
      { timestamp: Date.now(), gateway: this.kp.binary, session_capable: true, packet_ack_interval: 0 },
      over,
    );
    m.signature = P.sign(this.kp.privateKey, P.canonical(P.T.register, m, 'signature'));
    return m;
  }
  register(over) {
    this.sendRaw(1, P.canonical(P.T.register, this.registerMsg(over)));
  }
  sessionInit(nonce, signer) {
    this.session = P.newKeypair();
    const m = { gateway: this.kp.binary, nonce, session_key: this.session.binary };
    m.signature = P.sign((signer || this.kp).privateKey, P.canonical(P.T.sessionInit, m, 'signature'));
    this.sendRaw(3, P.canonical(P.T.sessionInit, m));
  }
  packetMsg(over, signer) {
    const m = Object.assign(
      {
        payload: crypto.randomBytes(23),
        timestamp: 1234567890,
        rssi: -87,
        frequency: 868300000,
        datarate: 'SF7BW125',
        snr: 7.25,
        region: 'EU868',
        hold_time: 12,
        gateway: this.kp.binary,
      },
      over,
    );
    const key = signer || this.session || this.kp;
    m.signature = P.sign(key.privateKey, P.canonical(P.T.packetUp, m, 'signature'));
    return m;
  }
  packet(over, signer) {
    const m = this.packetMsg(over, signer);
    this.sendRaw(2, P.canonical(P.T.packetUp, m));
    return m;
  }
  // register + offer + session_init; returns the offer's nonce.
  async connect() {
    this.register();
    const d = await this.next();
    if (d.which !== 'session_offer') throw new Error(`expected session_offer, got ${d.which}`);
    this.sessionInit(Buffer.from(d.msg.nonce));
    await ev.wait('session_init', { gateway: this.hex, nonce_ok: true });
    return Buffer.from(d.msg.nonce);
  }
  close() {
    this.call.end();
  }
}

// ---------------------------------------------------------------------------
// Checks

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
function eq(got, want, what) {
  if (got !== want) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('register gets a session_offer with a 32-byte nonce', async () => {
  const gw = new Gateway();
  gw.register();
  const e = await ev.wait('register', { gateway: gw.hex });
  eq(e.verified, true, 'verified');
  eq(e.canonical, true, 'canonical');
  eq(e.session_capable, true, 'session_capable');
  const d = await gw.next();
  eq(d.which, 'session_offer', 'down');
  eq(d.msg.nonce.length, 32, 'nonce length');
  const o = await ev.wait('session_offer', { gateway: gw.hex });
  eq(o.nonce, Buffer.from(d.msg.nonce).toString('hex'), 'offer event nonce');
  gw.close();
});

test('session_init with the offered nonce is accepted', async () => {
  const gw = new Gateway();
  await gw.connect();
  const s = await cmd({ cmd: 'streams' });
  const mine = s.streams.find((x) => x.gateway === gw.hex);
  assert(mine && mine.session, `stream has no session: ${JSON.stringify(s)}`);
  eq(mine.session_key, gw.session.binary.toString('hex'), 'session key');
  gw.close();
});

test('a packet signed by the session key is verified, fields as sent', async () => {
  const gw = new Gateway();
  await gw.connect();
  const m = gw.packet({ rssi: -120, snr: -7.5, datarate: 'SF9BW125', timestamp: 4294967295 });
  const e = await ev.wait('packet', { gateway: gw.hex });
  eq(e.verified, true, 'verified');
  eq(e.signed_by, 'session', 'signed_by');
  eq(e.canonical, true, 'canonical');
  eq(e.payload, m.payload.toString('base64'), 'payload');
  eq(e.timestamp, 4294967295, 'timestamp');
  eq(e.rssi, -120, 'rssi');
  eq(e.frequency, 868300000, 'frequency');
  eq(e.datarate, 'SF9BW125', 'datarate');
  eq(e.snr, -7.5, 'snr');
  eq(e.region, 'EU868', 'region');
  eq(e.hold_time, 12, 'hold_time');
  gw.close();
});

test('without a session, packets are verified with the gateway key', async () => {
  const gw = new Gateway();
  gw.register({ session_capable: false });
  await ev.wait('register', { gateway: gw.hex, verified: true });
  gw.packet({ region: 'US915', datarate: 'SF12BW125', hold_time: 0 });
  const e = await ev.wait('packet', { gateway: gw.hex });
  eq(e.verified, true, 'verified');
  eq(e.signed_by, 'gateway', 'signed_by');
  eq(e.region, 'US915', 'region (enum 0, omitted on the wire)');
  eq(e.datarate, 'SF12BW125', 'datarate');
  eq(gw.down.length, 0, 'no offer without session_capable');
  gw.close();
});

test('a packet with a wrong signature: verify_failed, stream ends with an error', async () => {
  const gw = new Gateway();
  await gw.connect();
  gw.packet({}, gw.kp); // gateway key, but a session is set
  const f = await ev.wait('verify_failed', { gateway: gw.hex });
  eq(f.what, 'packet', 'what');
  const st = await gw.waitStatus();
  eq(st.code, grpc.status.UNAUTHENTICATED, 'status');
  const end = await ev.wait('stream_end', { gateway: gw.hex });
  eq(end.reason, 'verify_failed:packet', 'reason');
});

test('a packet carrying another gateway key ends the stream', async () => {
  const gw = new Gateway();
  await gw.connect();
  gw.packet({ gateway: P.newKeypair().binary });
  const f = await ev.wait('verify_failed', { gateway: gw.hex });
  eq(f.what, 'packet_gateway', 'what');
  eq((await gw.waitStatus()).code, grpc.status.UNAUTHENTICATED, 'status');
});

test('session_init with a wrong nonce is ignored, the stream stays', async () => {
  const gw = new Gateway();
  await gw.connect();
  const first = gw.session;
  gw.sessionInit(crypto.randomBytes(32));
  const e = await ev.wait('session_init', { gateway: gw.hex });
  eq(e.nonce_ok, false, 'nonce_ok');
  eq(e.verified, true, 'verified');
  // The first session key still signs packets.
  gw.packet({}, first);
  eq((await ev.wait('packet', { gateway: gw.hex })).verified, true, 'packet with the old session');
  assert(gw.status === null, 'stream ended');
  gw.close();
});

test('non-canonical register verifies via the canonical re-encoding', async () => {
  const gw = new Gateway();
  const m = gw.registerMsg({ packet_ack_interval: 0 });
  // Reverse field order, and encode packet_ack_interval = 0 explicitly.
  const parts = [
    Buffer.from([0x28, 0x00]), // field 5 varint 0
    Buffer.from([0x20, 0x01]), // session_capable
    P.frameField(3, m.signature),
    P.frameField(2, m.gateway),
    P.canonical(P.T.register, { timestamp: m.timestamp }),
  ];
  gw.sendRaw(1, Buffer.concat(parts));
  const e = await ev.wait('register', { gateway: gw.hex });
  eq(e.verified, true, 'verified');
  eq(e.canonical, false, 'canonical');
  eq((await gw.next()).which, 'session_offer', 'down');
  gw.close();
});

test('a register signed over non-canonical bytes fails', async () => {
  const gw = new Gateway();
  const m = { timestamp: Date.now(), gateway: gw.kp.binary, session_capable: true };
  const nonCanonical = Buffer.concat([P.canonical(P.T.register, m), Buffer.from([0x28, 0x00])]);
  const sig = P.sign(gw.kp.privateKey, nonCanonical);
  gw.sendRaw(1, Buffer.concat([nonCanonical, P.frameField(3, sig)]));
  const e = await ev.wait('register', { gateway: gw.hex });
  eq(e.verified, false, 'verified');
  eq((await ev.wait('verify_failed', { gateway: gw.hex })).what, 'register', 'what');
  eq((await gw.waitStatus()).code, grpc.status.UNAUTHENTICATED, 'status');
});

test('a second stream with the same key takes it; the first gets an empty envelope', async () => {
  const a = new Gateway();
  await a.connect();
  const b = new Gateway(a.kp);
  b.register();
  const give = await ev.wait('give_away', { gateway: a.hex });
  const d = await a.next();
  eq(d.which, null, 'empty envelope to the first stream');
  const st = await a.waitStatus();
  eq(st.code, grpc.status.OK, 'first stream status');
  const end = await ev.wait('stream_end', { n: give.from });
  eq(end.reason, 'give_away', 'reason');
  eq((await b.next()).which, 'session_offer', 'second stream offer');
  const s = await cmd({ cmd: 'streams' });
  const holders = s.streams.filter((x) => x.gateway === a.hex);
  eq(holders.length, 1, 'streams holding the key');
  eq(holders[0].n, give.to, 'holder');
  b.close();
});

test('control downlink reaches the gateway with the right fields', async () => {
  const gw = new Gateway();
  await gw.connect();
  const payload = crypto.randomBytes(17);
  const r = await cmd({
    cmd: 'downlink',
    gateway: gw.hex.toUpperCase(),
    payload: payload.toString('base64'),
    rx1: { timestamp: 3000000000, frequency: 868100000, datarate: 'SF9BW125', immediate: false },
    rx2: { timestamp: 3001000000, frequency: 869525000, datarate: 'SF12BW125', immediate: false },
  });
  eq(r.ok, true, `downlink reply ${JSON.stringify(r)}`);
  const d = await gw.next();
  eq(d.which, 'packet', 'down');
  assert(Buffer.from(d.msg.payload).equals(payload), 'payload');
  eq(P.toNum(d.msg.rx1.timestamp), 3000000000, 'rx1.timestamp');
  eq(d.msg.rx1.frequency, 868100000, 'rx1.frequency');
  eq(d.msg.rx1.datarate, P.T.dataRate.values.SF9BW125, 'rx1.datarate');
  eq(d.msg.rx1.immediate, false, 'rx1.immediate');
  eq(P.toNum(d.msg.rx2.timestamp), 3001000000, 'rx2.timestamp');
  eq(d.msg.rx2.frequency, 869525000, 'rx2.frequency');
  eq(d.msg.rx2.datarate, 0, 'rx2.datarate');
  // Class C: immediate, no rx2.
  await cmd({
    cmd: 'downlink',
    gateway: gw.hex,
    payload: payload.toString('base64'),
    rx1: { frequency: 869525000, datarate: 'SF12BW125', immediate: true },
  });
  const c = await gw.next();
  eq(c.msg.rx1.immediate, true, 'immediate');
  assert(c.msg.rx2 === null || c.msg.rx2 === undefined, 'no rx2');
  const bad = await cmd({ cmd: 'downlink', gateway: 'ab', payload: '', rx1: {} });
  eq(bad.ok, false, 'downlink to an unknown gateway');
  gw.close();
});

test('end_stream sends an empty envelope, then status OK', async () => {
  const gw = new Gateway();
  await gw.connect();
  eq((await cmd({ cmd: 'end_stream', gateway: gw.hex })).ok, true, 'reply');
  eq((await gw.next()).which, null, 'empty envelope');
  eq((await gw.waitStatus()).code, grpc.status.OK, 'status');
  eq((await ev.wait('stream_end', { gateway: gw.hex })).reason, 'control', 'reason');
});

test('end_stream with an error status', async () => {
  const gw = new Gateway();
  await gw.connect();
  await cmd({ cmd: 'end_stream', gateway: gw.hex, error: 'unavailable' });
  eq((await gw.waitStatus()).code, grpc.status.UNAVAILABLE, 'status');
});

test('offer sends a new nonce; a session_init with it is accepted', async () => {
  const gw = new Gateway();
  const first = await gw.connect();
  const r = await cmd({ cmd: 'offer', gateway: gw.hex });
  const d = await gw.next();
  eq(d.which, 'session_offer', 'down');
  eq(Buffer.from(d.msg.nonce).toString('hex'), r.nonce, 'nonce in the reply');
  assert(!first.equals(Buffer.from(d.msg.nonce)), 'fresh nonce');
  gw.sessionInit(Buffer.from(d.msg.nonce));
  eq((await ev.wait('session_init', { gateway: gw.hex })).nonce_ok, true, 'nonce_ok');
  gw.packet();
  eq((await ev.wait('packet', { gateway: gw.hex })).verified, true, 'packet with the new session');
  gw.close();
});

test('refuse_register ends the stream; reject_packets drops packets', async () => {
  await cmd({ cmd: 'set', refuse_register: true });
  const gw = new Gateway();
  gw.register();
  eq((await gw.waitStatus()).code, grpc.status.PERMISSION_DENIED, 'status');
  eq((await ev.wait('stream_end', { gateway: gw.hex })).reason, 'refused', 'reason');
  await cmd({ cmd: 'set', refuse_register: false, reject_packets: true });
  const g2 = new Gateway();
  await g2.connect();
  g2.packet();
  eq((await ev.wait('packet_rejected', { gateway: g2.hex })).verified, true, 'rejected but verified');
  await cmd({ cmd: 'set', reject_packets: false });
  g2.close();
});

test('refuse_mode empty: a refused register gets an empty envelope, then status OK', async () => {
  await cmd({ cmd: 'set', refuse_register: true, refuse_mode: 'empty' });
  const gw = new Gateway();
  gw.register();
  eq((await gw.next()).which, null, 'empty envelope');
  eq((await gw.waitStatus()).code, grpc.status.OK, 'status');
  eq((await ev.wait('stream_end', { gateway: gw.hex })).reason, 'refused', 'reason');
  eq((await cmd({ cmd: 'set', refuse_mode: 'bogus' })).ok, false, 'bad refuse_mode');
  await cmd({ cmd: 'set', refuse_register: false, refuse_mode: 'status' });
});

test('end_all ends every registered stream with an empty envelope', async () => {
  const a = new Gateway();
  const b = new Gateway();
  await a.connect();
  await b.connect();
  const live = (await cmd({ cmd: 'stats' })).stats.streams_live;
  const r = await cmd({ cmd: 'end_all' });
  eq(r.count, live, 'count');
  for (const gw of [a, b]) {
    eq((await gw.next()).which, null, 'empty envelope');
    eq((await gw.waitStatus()).code, grpc.status.OK, 'status');
  }
  eq((await cmd({ cmd: 'stats' })).stats.streams_live, 0, 'streams_live');
});

test('gateways: per-key registers, refusals, sessions, packets, ends and times', async () => {
  const gw = new Gateway();
  await cmd({ cmd: 'set', refuse_register: true });
  const t0 = Date.now();
  gw.register();
  await gw.waitStatus();
  await cmd({ cmd: 'set', refuse_register: false });
  const g2 = new Gateway(gw.kp);
  await g2.connect();
  g2.packet();
  g2.packet();
  await ev.wait('packet', { gateway: gw.hex });
  await ev.wait('packet', { gateway: gw.hex });
  g2.close();
  await ev.wait('stream_end', { gateway: gw.hex, reason: 'client_end' });
  const all = (await cmd({ cmd: 'gateways', times: true })).gateways;
  const c = all[gw.hex];
  assert(c, `no counts for ${gw.hex}`);
  eq(c.registers, 2, 'registers');
  eq(c.registers_refused, 1, 'registers_refused');
  eq(c.session_inits, 1, 'session_inits');
  eq(c.packets, 2, 'packets');
  eq(c.ends.refused, 1, 'ends.refused');
  eq(c.ends.client_end, 1, 'ends.client_end');
  eq(c.register_t.length, 2, 'register_t');
  assert(c.register_t[0] >= t0 && c.register_t[1] >= c.register_t[0], 'register_t in order');
  const plain = (await cmd({ cmd: 'gateways' })).gateways[gw.hex];
  eq(plain.register_t, undefined, 'register_t only with times');
  // Every stream so far came over the test's one client connection.
  eq((await cmd({ cmd: 'stats' })).stats.connections, 1, 'connections');
});

test('kill_after_ms ends streams with an empty envelope (HPR 35-minute kill)', async () => {
  await cmd({ cmd: 'set', kill_after_ms: 200 });
  const gw = new Gateway();
  await gw.connect();
  await cmd({ cmd: 'set', kill_after_ms: 0 });
  eq((await gw.next()).which, null, 'empty envelope');
  eq((await gw.waitStatus()).code, grpc.status.OK, 'status');
  eq((await ev.wait('stream_end', { gateway: gw.hex })).reason, 'session_timeout', 'reason');
});

test('packet_ack_interval: acks carry the SHA-256 of the last payload', async () => {
  const gw = new Gateway();
  gw.register({ session_capable: false, packet_ack_interval: 1 });
  const m = gw.packet();
  const d = await gw.next(3000);
  eq(d.which, 'packet_ack', 'down');
  const want = crypto.createHash('sha256').update(m.payload).digest();
  assert(Buffer.from(d.msg.payload_hash).equals(want), 'payload_hash');
  gw.close();
});

test('packets sent just before the half-close are all handled, in order', async () => {
  const gw = new Gateway();
  await gw.connect();
  const sent = [];
  for (let i = 0; i < 50; i++) sent.push(gw.packet({ timestamp: i + 1 }));
  gw.close();
  for (let i = 0; i < 50; i++) {
    const e = await ev.wait('packet', { gateway: gw.hex });
    eq(e.timestamp, i + 1, 'order');
    eq(e.verified, true, 'verified');
  }
  eq((await ev.wait('stream_end', { gateway: gw.hex })).reason, 'client_end', 'reason');
  eq((await gw.waitStatus()).code, grpc.status.OK, 'status');
});

test('stats and streams', async () => {
  const before = (await cmd({ cmd: 'stats' })).stats;
  const gw = new Gateway();
  await gw.connect();
  gw.packet();
  await ev.wait('packet', { gateway: gw.hex });
  const after = (await cmd({ cmd: 'stats' })).stats;
  eq(after.streams_opened - before.streams_opened, 1, 'streams_opened');
  eq(after.registers - before.registers, 1, 'registers');
  eq(after.packets_verified - before.packets_verified, 1, 'packets_verified');
  eq(after.verify_failures, before.verify_failures, 'verify_failures');
  assert(after.verify_failures >= 3, `failures counted earlier: ${after.verify_failures}`);
  gw.close();
  await ev.wait('stream_end', { gateway: gw.hex });
  const s = await cmd({ cmd: 'streams' });
  assert(!s.streams.some((x) => x.gateway === gw.hex), 'closed stream still listed');
  eq((await cmd({ cmd: 'bogus' })).ok, false, 'unknown command');
});

// ---------------------------------------------------------------------------

async function main() {
  let passed = 0;
  let failed = 0;
  try {
    const port = await startServer();
    client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    for (const t of tests) {
      try {
        await t.fn();
        passed++;
        console.log(`ok   ${t.name}`);
      } catch (e) {
        failed++;
        console.log(`FAIL ${t.name}: ${e.message}`);
        // A failed test may leave settings behind: reset them.
        await cmd({
          cmd: 'set',
          refuse_register: false,
          refuse_mode: 'status',
          reject_packets: false,
          kill_after_ms: 0,
        });
      }
    }
  } catch (e) {
    failed++;
    console.log(`FAIL setup: ${e.message}`);
  }
  if (client) client.close();
  if (server && server.exitCode === null) {
    server.removeAllListeners('exit');
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  if (failed === 0) fs.rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}\n${serverOut}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
