#!/usr/bin/env node
'use strict';
// Fake Helium packet router for routerlink's integration tests.
//
//   node server.js --port N --events FILE --control PATH
//                  [--events-batch] [--kill-after-ms MS]
//                  [--bench] [--verify-every N]
//
// Serves helium.packet_router.packet/route (bidirectional streaming) over
// cleartext HTTP/2 on 127.0.0.1 with @grpc/grpc-js, checks what HPR checks
// (signatures over the canonical re-encoding, nonce, gateway key), writes
// one JSON event per line to FILE and takes JSON commands on a UNIX socket.
// See README.md for the event and control protocols.

const os = require('os');

// Signatures are checked with the asynchronous crypto.verify, which runs on
// libuv's thread pool: one thread per core (set before the pool starts).
if (!process.env.UV_THREADPOOL_SIZE) {
  process.env.UV_THREADPOOL_SIZE = String(Math.max(4, os.availableParallelism()));
}

const fs = require('fs');
const net = require('net');
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const P = require('./proto');

// ---------------------------------------------------------------------------
// Command line

function parseArgs(argv) {
  const o = {
    port: 0,
    events: null,
    control: null,
    batch: false,
    killAfterMs: 0,
    bench: false,
    verifyEvery: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port') o.port = Number(next());
    else if (a === '--events') o.events = next();
    else if (a === '--control') o.control = next();
    else if (a === '--events-batch') o.batch = true;
    else if (a === '--kill-after-ms') o.killAfterMs = Number(next());
    else if (a === '--bench') o.bench = true;
    else if (a === '--verify-every') o.verifyEvery = Number(next());
    else usage(`unknown argument ${a}`);
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) usage('bad --port');
  if (!o.events || !o.control) usage('--events and --control are required');
  if (o.verifyEvery === 0) o.verifyEvery = o.bench ? 64 : 1;
  if (!Number.isInteger(o.verifyEvery) || o.verifyEvery < 1) usage('bad --verify-every');
  if (o.verifyEvery !== 1 && !o.bench) usage('--verify-every needs --bench');
  if (o.bench) o.batch = true;
  return o;
}

function usage(msg) {
  process.stderr.write(
    `fake router: ${msg}\nusage: node server.js --port N --events FILE --control PATH ` +
      '[--events-batch] [--kill-after-ms MS] [--bench] [--verify-every N]\n',
  );
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------------------
// Events: one JSON object per line, appended. Line-buffered (one write per
// event) by default; --events-batch gathers them and writes every 20 ms.

class EventLog {
  constructor(file, batch) {
    this.fd = fs.openSync(file, 'a');
    this.batch = batch;
    this.pending = [];
    this.timer = null;
    this.count = 0;
  }
  emit(obj) {
    obj.t = Date.now();
    const line = JSON.stringify(obj) + '\n';
    this.count++;
    if (!this.batch) {
      fs.writeSync(this.fd, line);
      return;
    }
    this.pending.push(line);
    if (!this.timer) this.timer = setTimeout(() => this.flush(), 20);
  }
  flush() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    fs.writeSync(this.fd, text);
  }
}

const events = new EventLog(opts.events, opts.batch);

// ---------------------------------------------------------------------------
// State

const settings = {
  refuse_register: false,
  refuse_mode: 'status', // or 'empty': an empty envelope, then status OK
  reject_packets: false,
  ignore_client_end: false, // a router that keeps half-closed streams open
  kill_after_ms: opts.killAfterMs,
};
const stats = {
  streams_opened: 0,
  streams_live: 0,
  registers: 0,
  registers_verified: 0,
  registers_refused: 0,
  session_offers: 0,
  session_inits: 0,
  session_inits_accepted: 0,
  nonce_mismatches: 0,
  packets: 0,
  packets_verified: 0,
  packets_rejected: 0,
  verify_failures: 0,
  protocol_errors: 0,
  downlinks: 0,
  give_aways: 0,
  streams_ended: 0,
  packets_unverified: 0,
  connections: 0,
};

// Per gateway key (hex), for the fault tests' reconnect-storm checks: what
// the router saw of each gateway, and when each register came.
const perGateway = new Map();
function gwCounts(gwHex) {
  let c = perGateway.get(gwHex);
  if (!c) {
    c = {
      registers: 0,
      registers_refused: 0,
      session_inits: 0,
      packets: 0,
      ends: {},
      register_t: [],
    };
    perGateway.set(gwHex, c);
  }
  return c;
}
// HTTP/2 connections that carried a stream, told apart by their peer
// (client address and port): a reconnect storm at the TCP level shows here.
const peers = new Set();

const streams = new Map(); // stream seq -> Stream
const byKey = new Map(); // gateway hex -> Stream holding the key
let seq = 0;

const hex = (b) => (b ? Buffer.from(b).toString('hex') : null);
const b64 = (b) => (b ? Buffer.from(b).toString('base64') : '');
const enumName = (e, v) => (e.valuesById[v] !== undefined ? e.valuesById[v] : v);

// Resolves to true when sig is a valid Ed25519 signature of data by key.
function verifyAsync(key, data, sig) {
  if (!key || !sig || sig.length !== 64) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      crypto.verify(null, data, key, Buffer.from(sig), (err, ok) => resolve(!err && ok));
    } catch (e) {
      resolve(false);
    }
  });
}

// ---------------------------------------------------------------------------
// Bench mode (--bench): routerlink's benchmark sends packets whose payload
// carries, at BENCH_OFFSET, the run's sequence number and the sender's
// CLOCK_MONOTONIC time (two little-endian uint64). Instead of one event per
// packet the fake keeps (seq, sent, received) records, received being
// process.hrtime (libuv reads CLOCK_MONOTONIC too), and hands them over on
// the `bench_take` command. Only one packet in --verify-every has its
// signature checked (Ed25519 verification costs about three signatures: checking all
// would make the fake the bottleneck); registers and session_inits are
// always checked, and a failed check still ends the stream.

const BENCH_OFFSET = 9; // MHDR, DevAddr, FCtrl, FCnt, FPort: the FRMPayload
const BENCH_RECORD = 24;

class BenchLog {
  constructor() {
    this.buf = Buffer.allocUnsafe(BENCH_RECORD * 65536);
    this.len = 0;
    this.untagged = 0; // packets too short to carry the bench fields
  }
  add(payload) {
    if (payload.length < BENCH_OFFSET + 16) {
      this.untagged++;
      return;
    }
    if (this.len + BENCH_RECORD > this.buf.length) {
      const b = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(b, 0, 0, this.len);
      this.buf = b;
    }
    Buffer.from(payload.buffer, payload.byteOffset, payload.length).copy(
      this.buf,
      this.len,
      BENCH_OFFSET,
      BENCH_OFFSET + 16,
    );
    this.buf.writeBigUInt64LE(process.hrtime.bigint(), this.len + 16);
    this.len += BENCH_RECORD;
  }
  // Writes the records kept since the last take to file; returns their count.
  take(file) {
    fs.writeFileSync(file, this.buf.subarray(0, this.len));
    const n = this.len / BENCH_RECORD;
    this.len = 0;
    return n;
  }
}

const bench = opts.bench ? new BenchLog() : null;

// The payload and gateway of an envelope_up_v1 holding a packet, as views
// into buf, read without decoding the rest; null for anything else (the
// slow path then decodes and reports it properly).
function scanPacketUp(buf) {
  let pos = 0;
  const varint = (end) => {
    let v = 0;
    for (let shift = 0; pos < end && shift < 35; shift += 7) {
      const b = buf[pos++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    throw new Error('bad varint');
  };
  try {
    if (buf[pos++] !== 0x12) return null; // field 2 (packet), length-delimited
    const len = varint(buf.length);
    const end = pos + len;
    if (end !== buf.length) return null;
    const m = { payload: null, gateway: null };
    while (pos < end) {
      const tag = varint(end);
      const wt = tag & 7;
      if (wt === 2) {
        const n = varint(end);
        if (pos + n > end) return null;
        if (tag >>> 3 === 1) m.payload = buf.subarray(pos, pos + n);
        else if (tag >>> 3 === 9) m.gateway = buf.subarray(pos, pos + n);
        pos += n;
      } else if (wt === 0) varint(end);
      else if (wt === 5) pos += 4;
      else if (wt === 1) pos += 8;
      else return null;
    }
    return pos === end && m.payload !== null ? m : null;
  } catch (e) {
    return null;
  }
}
let packetsSeen = 0;

// Messages of one stream are handled in order (a chain of promises); the
// streams run in parallel, their signature checks on the thread pool. A
// stream with this many messages waiting stops reading until it catches up.
const MAX_QUEUED = 256;

class Stream {
  constructor(call) {
    this.n = ++seq;
    this.call = call;
    this.peer = call.getPeer();
    this.opened = Date.now();
    this.gw = null; // hex of the registered key
    this.claimed = null; // hex of the last key a register claimed
    this.gwKey = null; // KeyObject
    this.sessionKey = null; // KeyObject
    this.sessionHex = null;
    this.nonce = null; // last offer
    this.ended = false;
    this.killTimer = null;
    this.ackTimer = null;
    this.lastHash = null;
    this.ackInterval = 0;
    this.chain = Promise.resolve();
    this.queued = 0;
  }

  enqueue(buf) {
    if (this.ended) return;
    // Bench mode: a packet that is not to be verified skips the promise
    // chain when nothing of this stream is waiting (order is kept).
    if (bench && this.queued === 0 && this.sessionKey && this.benchPacket(buf)) return;
    this.queued++;
    if (this.queued === MAX_QUEUED) this.call.pause();
    this.chain = this.chain
      .then(() => this.onMessage(buf))
      .catch((e) => this.protocolError(`internal: ${e.message}`))
      .finally(() => {
        if (this.queued-- === MAX_QUEUED && !this.ended) this.call.resume();
      });
  }

  // The bench fast path; false when the slow path must handle buf.
  benchPacket(buf) {
    if ((packetsSeen + 1) % opts.verifyEvery === 0) return false;
    const m = scanPacketUp(buf);
    if (m === null || m.gateway === null || !this.gwBin.equals(m.gateway)) return false;
    packetsSeen++;
    stats.packets++;
    stats.packets_unverified++;
    bench.add(m.payload);
    return true;
  }

  send(which, msg) {
    if (this.ended) return false;
    const fieldNo = { packet: 1, session_offer: 2, packet_ack: 3 }[which];
    const type = { packet: P.T.packetDown, session_offer: P.T.sessionOffer, packet_ack: P.T.packetAck }[
      which
    ];
    this.call.write(P.frameField(fieldNo, P.canonical(type, msg)));
    return true;
  }

  offer() {
    this.nonce = crypto.randomBytes(32);
    stats.session_offers++;
    events.emit({ ev: 'session_offer', n: this.n, gateway: this.gw, nonce: hex(this.nonce) });
    this.send('session_offer', { nonce: this.nonce });
  }

  // How a stream ends:
  //   kind 'empty': an empty envelope_down_v1, then status OK (HPR's
  //                 give-away and 35-minute kill);
  //   kind 'ok':    status OK;
  //   kind 'error': status `code` with `details` (HPR stopping the stream);
  //   kind 'gone':  nothing to send (the client ended or cancelled).
  end(reason, kind, code, details) {
    if (this.ended) return;
    if (kind === 'empty' && !this.call.cancelled) {
      this.call.write(Buffer.alloc(0));
    }
    this.ended = true;
    clearTimeout(this.killTimer);
    clearInterval(this.ackTimer);
    streams.delete(this.n);
    if (this.gw && byKey.get(this.gw) === this) byKey.delete(this.gw);
    stats.streams_live = streams.size;
    stats.streams_ended++;
    const ev = { ev: 'stream_end', n: this.n, gateway: this.gw || this.claimed, reason };
    if (ev.gateway) {
      const ends = gwCounts(ev.gateway).ends;
      ends[reason] = (ends[reason] || 0) + 1;
    }
    if (kind === 'error') {
      ev.status = grpc.status[code];
      ev.details = details;
    }
    events.emit(ev);
    if (this.call.cancelled || kind === 'gone') {
      // Nothing can be sent any more; still finish our side.
      try {
        this.call.end();
      } catch (e) {
        /* already closed */
      }
      return;
    }
    if (kind === 'error') {
      this.call.emit('error', { code, details });
    } else {
      this.call.end();
    }
  }

  fail(what, details, extra) {
    stats.verify_failures++;
    events.emit(
      Object.assign({ ev: 'verify_failed', n: this.n, what, gateway: this.gw || this.claimed }, extra),
    );
    this.end(`verify_failed:${what}`, 'error', grpc.status.UNAUTHENTICATED, details);
  }

  protocolError(what) {
    stats.protocol_errors++;
    events.emit({ ev: 'protocol_error', n: this.n, what, gateway: this.gw });
    this.end(`protocol_error:${what}`, 'error', grpc.status.FAILED_PRECONDITION, what);
  }

  async onMessage(buf) {
    if (this.ended) return;
    let env;
    try {
      env = P.splitEnvelopeUp(buf);
    } catch (e) {
      return this.protocolError('malformed envelope');
    }
    if (env.which === null) {
      stats.protocol_errors++;
      events.emit({ ev: 'empty_envelope', n: this.n, gateway: this.gw });
      return;
    }
    let handler;
    let m;
    try {
      if (env.which === 'register') {
        handler = this.onRegister;
        m = P.T.register.decode(env.inner);
      } else if (env.which === 'session_init') {
        handler = this.onSessionInit;
        m = P.T.sessionInit.decode(env.inner);
      } else {
        handler = this.onPacket;
        m = P.T.packetUp.decode(env.inner);
      }
    } catch (e) {
      return this.protocolError(`malformed ${env.which}: ${e.message}`);
    }
    await handler.call(this, m, env.inner);
  }

  async onRegister(m, raw) {
    stats.registers++;
    const gw = Buffer.from(m.gateway);
    const key = P.publicKeyFromBinary(gw);
    const signed = P.canonical(P.T.register, m, 'signature');
    const canonical = P.canonical(P.T.register, m).equals(raw);
    const verified = await verifyAsync(key, signed, m.signature);
    if (this.ended) return;
    const gwHex = hex(gw);
    if (!this.gw) this.claimed = gwHex;
    const counts = gwCounts(gwHex);
    counts.registers++;
    counts.register_t.push(Date.now());
    events.emit({
      ev: 'register',
      n: this.n,
      gateway: gwHex,
      timestamp: P.toNum(m.timestamp),
      session_capable: m.session_capable,
      packet_ack_interval: m.packet_ack_interval,
      canonical,
      verified,
    });
    if (!verified) {
      return this.fail('register', 'register signature', { key_valid: key !== null });
    }
    stats.registers_verified++;
    if (settings.refuse_register) {
      stats.registers_refused++;
      counts.registers_refused++;
      if (settings.refuse_mode === 'empty') return this.end('refused', 'empty');
      return this.end('refused', 'error', grpc.status.PERMISSION_DENIED, 'register refused');
    }
    // A second register on the same stream rebinds it.
    if (this.gw && byKey.get(this.gw) === this) byKey.delete(this.gw);
    const old = byKey.get(gwHex);
    if (old && old !== this) {
      stats.give_aways++;
      events.emit({ ev: 'give_away', gateway: gwHex, from: old.n, to: this.n });
      old.end('give_away', 'empty');
    }
    this.gw = gwHex;
    this.gwBin = gw;
    this.gwKey = key;
    byKey.set(gwHex, this);
    this.ackInterval = m.packet_ack_interval;
    clearInterval(this.ackTimer);
    if (m.packet_ack_interval > 0) {
      this.ackTimer = setInterval(() => {
        this.send('packet_ack', { payload_hash: this.lastHash || Buffer.alloc(0) });
        this.lastHash = null;
      }, m.packet_ack_interval * 1000);
    }
    if (m.session_capable) this.offer();
  }

  async onSessionInit(m, raw) {
    if (!this.gw) return this.protocolError('session_init before register');
    stats.session_inits++;
    const gw = Buffer.from(m.gateway);
    const gwHex = hex(gw);
    const key = gwHex === this.gw ? this.gwKey : P.publicKeyFromBinary(gw);
    const signed = P.canonical(P.T.sessionInit, m, 'signature');
    const canonical = P.canonical(P.T.sessionInit, m).equals(raw);
    const verified = await verifyAsync(key, signed, m.signature);
    if (this.ended) return;
    const nonceOk = this.nonce !== null && this.nonce.equals(Buffer.from(m.nonce));
    const sk = Buffer.from(m.session_key);
    const sessionKey = P.publicKeyFromBinary(sk);
    events.emit({
      ev: 'session_init',
      n: this.n,
      gateway: gwHex,
      session_key: hex(sk),
      nonce_ok: nonceOk,
      verified,
      canonical,
      gateway_match: gwHex === this.gw,
      session_key_valid: sessionKey !== null,
    });
    if (!verified) return this.fail('session_init', 'session_init signature');
    if (gwHex !== this.gw) return this.fail('session_init_gateway', 'session_init gateway');
    if (!nonceOk) {
      // HPR logs and ignores it; the stream stays open.
      stats.nonce_mismatches++;
      return;
    }
    if (!sessionKey) return this.fail('session_key', 'session key not ed25519');
    this.sessionKey = sessionKey;
    this.sessionHex = hex(sk);
    stats.session_inits_accepted++;
    gwCounts(gwHex).session_inits++;
  }

  async onPacket(m, raw) {
    if (!this.gw) return this.protocolError('packet before register');
    if (bench && ++packetsSeen % opts.verifyEvery !== 0 && hex(m.gateway) === this.gw) {
      stats.packets++;
      stats.packets_unverified++;
      bench.add(m.payload);
      return;
    }
    stats.packets++;
    const gwHex = hex(m.gateway);
    if (gwHex !== this.gw) {
      return this.fail('packet_gateway', 'packet gateway is not the registered key', {
        packet_gateway: gwHex,
      });
    }
    const signedBy = this.sessionKey ? 'session' : 'gateway';
    const signed = P.canonical(P.T.packetUp, m, 'signature');
    const verified = await verifyAsync(this.sessionKey || this.gwKey, signed, m.signature);
    if (this.ended) return;
    if (!verified) {
      events.emit({ ev: 'packet', n: this.n, gateway: gwHex, verified, signed_by: signedBy });
      return this.fail('packet', 'packet signature', { signed_by: signedBy });
    }
    const canonical = P.canonical(P.T.packetUp, m).equals(raw);
    stats.packets_verified++;
    if (this.ackInterval > 0) this.lastHash = crypto.createHash('sha256').update(m.payload).digest();
    const ev = {
      ev: settings.reject_packets ? 'packet_rejected' : 'packet',
      n: this.n,
      gateway: gwHex,
      payload: b64(m.payload),
      timestamp: P.toNum(m.timestamp),
      rssi: m.rssi,
      frequency: m.frequency,
      datarate: enumName(P.T.dataRate, m.datarate),
      snr: m.snr,
      region: enumName(P.T.region, m.region),
      hold_time: P.toNum(m.hold_time),
      verified,
      signed_by: signedBy,
      canonical,
    };
    if (settings.reject_packets) stats.packets_rejected++;
    else gwCounts(gwHex).packets++;
    if (bench) {
      bench.add(m.payload);
      return;
    }
    events.emit(ev);
  }
}

// ---------------------------------------------------------------------------
// gRPC service: raw bytes in and out, (de)coded by proto.js, so that the
// received inner bytes can be compared with their canonical re-encoding.

const identity = (b) => b;
const serviceDef = {
  route: {
    path: P.METHOD_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

function route(call) {
  const st = new Stream(call);
  streams.set(st.n, st);
  stats.streams_opened++;
  stats.streams_live = streams.size;
  peers.add(st.peer);
  stats.connections = peers.size;
  events.emit({ ev: 'stream_open', n: st.n, peer: st.peer });
  if (settings.kill_after_ms > 0) {
    st.killTimer = setTimeout(() => st.end('session_timeout', 'empty'), settings.kill_after_ms);
  }
  call.on('data', (buf) => st.enqueue(buf));
  // The client's half-close ends the stream once its messages are handled.
  call.on('end', () => {
    if (settings.ignore_client_end) {
      events.emit({ ev: 'client_end_ignored', n: st.n, gateway: st.gw });
      return;
    }
    st.chain.then(() => st.end('client_end', 'ok'));
  });
  call.on('cancelled', () => st.end('cancelled', 'gone'));
  call.on('error', () => st.end('call_error', 'gone'));
}

// ---------------------------------------------------------------------------
// Control socket: one JSON command per line, one JSON reply per line.

const STATUS_BY_NAME = grpc.status;

function parseWindow(w, name) {
  if (typeof w !== 'object' || w === null) throw new Error(`${name} must be an object`);
  const dr = w.datarate === undefined ? 0 : w.datarate;
  if (typeof dr === 'string' && P.T.dataRate.values[dr] === undefined) {
    throw new Error(`${name}.datarate: unknown ${dr}`);
  }
  return {
    timestamp: w.timestamp || 0,
    frequency: w.frequency || 0,
    datarate: dr,
    immediate: !!w.immediate,
  };
}

function liveStream(gateway) {
  if (typeof gateway !== 'string') throw new Error('gateway (hex) is required');
  const st = byKey.get(gateway.toLowerCase());
  if (!st) throw new Error(`no live stream for ${gateway}`);
  return st;
}

const commands = {
  ping: () => ({}),
  downlink(c) {
    const st = liveStream(c.gateway);
    const msg = {
      payload: Buffer.from(c.payload || '', 'base64'),
      rx1: parseWindow(c.rx1, 'rx1'),
    };
    if (c.rx2 !== undefined && c.rx2 !== null) msg.rx2 = parseWindow(c.rx2, 'rx2');
    st.send('packet', msg);
    stats.downlinks++;
    events.emit({ ev: 'downlink', n: st.n, gateway: st.gw, payload: b64(msg.payload) });
    return { n: st.n };
  },
  end_stream(c) {
    const st = liveStream(c.gateway);
    if (c.error) {
      const code = STATUS_BY_NAME[String(c.error).toUpperCase()];
      if (code === undefined) throw new Error(`unknown status ${c.error}`);
      st.end('control', 'error', code, c.details || 'ended by control');
    } else {
      st.end('control', 'empty');
    }
    return { n: st.n };
  },
  end_all(c) {
    let code;
    if (c.error) {
      code = STATUS_BY_NAME[String(c.error).toUpperCase()];
      if (code === undefined) throw new Error(`unknown status ${c.error}`);
    }
    let count = 0;
    for (const st of [...streams.values()]) {
      if (!st.gw) continue;
      if (code !== undefined) st.end('control', 'error', code, c.details || 'ended by control');
      else st.end('control', 'empty');
      count++;
    }
    return { count };
  },
  offer(c) {
    const st = liveStream(c.gateway);
    st.offer();
    return { n: st.n, nonce: hex(st.nonce) };
  },
  set(c) {
    for (const k of ['refuse_register', 'reject_packets', 'ignore_client_end']) {
      if (c[k] !== undefined) settings[k] = !!c[k];
    }
    if (c.refuse_mode !== undefined) {
      if (c.refuse_mode !== 'status' && c.refuse_mode !== 'empty') {
        throw new Error('refuse_mode must be "status" or "empty"');
      }
      settings.refuse_mode = c.refuse_mode;
    }
    if (c.kill_after_ms !== undefined) settings.kill_after_ms = Number(c.kill_after_ms) || 0;
    return { settings: Object.assign({}, settings) };
  },
  streams() {
    const list = [];
    for (const st of streams.values()) {
      list.push({
        n: st.n,
        gateway: st.gw,
        session: st.sessionKey !== null,
        session_key: st.sessionHex,
        peer: st.peer,
        age_ms: Date.now() - st.opened,
      });
    }
    return { streams: list };
  },
  gateways(c) {
    const out = {};
    for (const [k, v] of perGateway) {
      out[k] = Object.assign({}, v, { ends: Object.assign({}, v.ends) });
      if (!c.times) delete out[k].register_t;
    }
    return { gateways: out };
  },
  stats() {
    stats.streams_live = streams.size;
    return { stats: Object.assign({ events: events.count }, stats) };
  },
  flush() {
    events.flush();
    return {};
  },
  bench_take(c) {
    if (!bench) throw new Error('not in --bench mode');
    if (typeof c.file !== 'string') throw new Error('file is required');
    return { count: bench.take(c.file), untagged: bench.untagged, packets: stats.packets };
  },
};

function handleCommand(line) {
  let c;
  try {
    c = JSON.parse(line);
  } catch (e) {
    return { ok: false, error: 'bad JSON' };
  }
  const fn = c && typeof c.cmd === 'string' && Object.hasOwn(commands, c.cmd) ? commands[c.cmd] : null;
  if (!fn) return { ok: false, error: `unknown cmd ${c && c.cmd}` };
  try {
    return Object.assign({ ok: true }, fn(c));
  } catch (e) {
    return { ok: false, error: e.message };
  }
}

function startControl(file) {
  try {
    fs.unlinkSync(file);
  } catch (e) {
    /* not there */
  }
  const srv = net.createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) conn.write(JSON.stringify(handleCommand(line)) + '\n');
      }
    });
    conn.on('error', () => {});
  });
  srv.listen(file);
  return srv;
}

// ---------------------------------------------------------------------------
// Start and stop

const server = new grpc.Server({ 'grpc.max_concurrent_streams': 100000 });
server.addService(serviceDef, { route });

let control = null;
server.bindAsync(`127.0.0.1:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`fake router: bind 127.0.0.1:${opts.port}: ${err.message}\n`);
    process.exit(1);
  }
  control = startControl(opts.control);
  control.on('listening', () => {
    events.emit({ ev: 'listening', port, pid: process.pid });
    process.stdout.write(`fake router listening on 127.0.0.1:${port}\n`);
  });
  control.on('error', (e) => {
    process.stderr.write(`fake router: control ${opts.control}: ${e.message}\n`);
    process.exit(1);
  });
});

function shutdown(sig) {
  events.emit({ ev: 'shutdown', signal: sig });
  events.flush();
  if (control) control.close();
  try {
    fs.unlinkSync(opts.control);
  } catch (e) {
    /* gone */
  }
  server.forceShutdown();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
