'use strict';
// Shared by the fake router and its self-test: the Helium packet router
// protos (loaded with protobufjs, field names as written: keepCase), a
// canonical proto3 encoder, envelope framing and Helium key helpers.
//
// Canonical encoding (what HPR's re-encode produces and what a gateway must
// sign): fields in ascending field-number order, proto3 default values left
// out (0, false, 0.0, "", empty bytes, enum value 0), no unknown fields.
// Floats: both +0.0 and -0.0 are left out (compared by value, as prost and
// gpb do).

const path = require('path');
const crypto = require('crypto');
const protobuf = require('protobufjs');

const PROTO_DIR = path.resolve(__dirname, '..', '..', '..', 'proto');

function loadRoot() {
  const root = new protobuf.Root();
  // Imports ("region.proto", "data_rate.proto") live beside packet_router.proto.
  root.resolvePath = (origin, target) =>
    path.isAbsolute(target) ? target : path.join(PROTO_DIR, target);
  root.loadSync(path.join(PROTO_DIR, 'packet_router.proto'), { keepCase: true });
  root.resolveAll();
  return root;
}

const root = loadRoot();
const T = {
  envelopeUp: root.lookupType('helium.packet_router.envelope_up_v1'),
  envelopeDown: root.lookupType('helium.packet_router.envelope_down_v1'),
  register: root.lookupType('helium.packet_router.packet_router_register_v1'),
  packetUp: root.lookupType('helium.packet_router.packet_router_packet_up_v1'),
  sessionInit: root.lookupType('helium.packet_router.packet_router_session_init_v1'),
  sessionOffer: root.lookupType('helium.packet_router.packet_router_session_offer_v1'),
  packetDown: root.lookupType('helium.packet_router.packet_router_packet_down_v1'),
  packetAck: root.lookupType('helium.packet_router.packet_router_packet_ack_v1'),
  window: root.lookupType('helium.packet_router.window_v1'),
  region: root.lookupEnum('helium.region'),
  dataRate: root.lookupEnum('helium.data_rate'),
};

const METHOD_PATH = '/helium.packet_router.packet/route';

// ---------------------------------------------------------------------------
// Numbers

// Any protobufjs integer representation (number, Long, string, bigint) to
// a BigInt. unsigned: read a Long's bits as unsigned.
function toBig(v, unsigned) {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string') return BigInt(v);
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const b = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
    return unsigned || v.unsigned ? b : BigInt.asIntN(64, b);
  }
  return 0n;
}

// uint64 values in events are JSON numbers (exact up to 2^53).
function toNum(v) {
  if (typeof v === 'number') return v;
  if (v === undefined || v === null) return 0;
  return Number(toBig(v, true));
}

// ---------------------------------------------------------------------------
// Canonical encoder

class Out {
  constructor() {
    this.buf = Buffer.allocUnsafe(128);
    this.len = 0;
  }
  ensure(n) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = Buffer.allocUnsafe(cap);
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  varint(big) {
    // big: non-negative BigInt below 2^64, or a small non-negative number.
    this.ensure(10);
    if (typeof big === 'number' && big < 0x80000000) {
      let v = big;
      while (v > 0x7f) {
        this.buf[this.len++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.len++] = v;
      return;
    }
    let v = BigInt(big);
    while (v > 0x7fn) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
  }
  bytes(b) {
    this.varint(b.length);
    this.ensure(b.length);
    Buffer.from(b.buffer, b.byteOffset, b.length).copy(this.buf, this.len);
    this.len += b.length;
  }
  fixed32(writeFn, v) {
    this.ensure(4);
    writeFn.call(this.buf, v, this.len);
    this.len += 4;
  }
  fixed64(writeFn, v) {
    this.ensure(8);
    writeFn.call(this.buf, v, this.len);
    this.len += 8;
  }
  finish() {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

const sortedFields = new Map(); // Type -> fields by ascending id

function fieldsOf(type) {
  let f = sortedFields.get(type);
  if (!f) {
    f = type.fieldsArray.slice().sort((a, b) => a.id - b.id);
    f.forEach((x) => x.resolve());
    sortedFields.set(type, f);
  }
  return f;
}

function enumValue(field, v) {
  if (typeof v === 'string') {
    const n = field.resolvedType.values[v];
    if (n === undefined) throw new Error(`${field.name}: unknown enum name ${v}`);
    return n;
  }
  return Number(v);
}

function encodeInto(out, type, msg, skip) {
  for (const field of fieldsOf(type)) {
    if (field.name === skip) continue;
    if (field.repeated || field.map) throw new Error(`${field.name}: repeated fields unsupported`);
    const v = msg[field.name];
    if (v === undefined || v === null) continue;
    const tag = (wt) => out.varint(field.id * 8 + wt);
    if (field.resolvedType instanceof protobuf.Type) {
      // Sub-message: present means encoded, even when empty.
      const sub = new Out();
      encodeInto(sub, field.resolvedType, v, null);
      tag(2);
      out.bytes(sub.finish());
      continue;
    }
    if (field.resolvedType instanceof protobuf.Enum) {
      const n = enumValue(field, v);
      if (n === 0) continue;
      tag(0);
      out.varint(BigInt.asUintN(64, BigInt(n)));
      continue;
    }
    switch (field.type) {
      case 'bytes': {
        const b = typeof v === 'string' ? Buffer.from(v, 'base64') : v;
        if (b.length === 0) continue;
        tag(2);
        out.bytes(b);
        break;
      }
      case 'string': {
        if (v.length === 0) continue;
        tag(2);
        out.bytes(Buffer.from(v, 'utf8'));
        break;
      }
      case 'bool':
        if (!v) continue;
        tag(0);
        out.varint(1);
        break;
      case 'uint32':
      case 'uint64': {
        const b = BigInt.asUintN(64, toBig(v, true));
        if (b === 0n) continue;
        tag(0);
        out.varint(b);
        break;
      }
      case 'int32':
      case 'int64': {
        const b = toBig(v, false);
        if (b === 0n) continue;
        tag(0);
        out.varint(BigInt.asUintN(64, b));
        break;
      }
      case 'sint32':
      case 'sint64': {
        const b = toBig(v, false);
        if (b === 0n) continue;
        tag(0);
        out.varint(b >= 0n ? b * 2n : -b * 2n - 1n);
        break;
      }
      case 'float':
        if (v === 0) continue;
        tag(5);
        out.fixed32(Buffer.prototype.writeFloatLE, v);
        break;
      case 'double':
        if (v === 0) continue;
        tag(1);
        out.fixed64(Buffer.prototype.writeDoubleLE, v);
        break;
      case 'fixed32':
        if (Number(v) === 0) continue;
        tag(5);
        out.fixed32(Buffer.prototype.writeUInt32LE, Number(v));
        break;
      case 'sfixed32':
        if (Number(v) === 0) continue;
        tag(5);
        out.fixed32(Buffer.prototype.writeInt32LE, Number(v));
        break;
      case 'fixed64':
      case 'sfixed64': {
        const b = toBig(v, field.type === 'fixed64');
        if (b === 0n) continue;
        tag(1);
        out.fixed64(Buffer.prototype.writeBigUInt64LE, BigInt.asUintN(64, b));
        break;
      }
      default:
        throw new Error(`${field.name}: unsupported type ${field.type}`);
    }
  }
}

// Canonical bytes of a plain object or a protobufjs message of `type`;
// `skip` names a field to leave out (the signature, for the signed bytes).
function canonical(type, msg, skip) {
  const out = new Out();
  encodeInto(out, type, msg, skip || null);
  return out.finish();
}

// ---------------------------------------------------------------------------
// Envelopes (the oneof members are length-delimited fields 1..3)

function frameField(fieldNo, inner) {
  const out = new Out();
  out.varint(fieldNo * 8 + 2);
  out.bytes(inner);
  return out.finish();
}

// envelope_up_v1 / envelope_down_v1 bytes -> {which: the member's name or
// null, inner: Buffer|null}. The last oneof member on the wire wins, as in
// protobuf; unknown fields are skipped. Throws on malformed input.
function splitEnvelope(buf, members) {
  const r = protobuf.Reader.create(buf);
  let which = null;
  let inner = null;
  while (r.pos < r.len) {
    const tag = r.uint32();
    const no = tag >>> 3;
    const wt = tag & 7;
    if (members[no] && wt === 2) {
      which = members[no];
      inner = Buffer.from(r.bytes());
    } else {
      r.skipType(wt);
    }
  }
  return { which, inner };
}

const UP_MEMBERS = { 1: 'register', 2: 'packet', 3: 'session_init' };
const DOWN_MEMBERS = { 1: 'packet', 2: 'session_offer', 3: 'packet_ack' };
const splitEnvelopeUp = (buf) => splitEnvelope(buf, UP_MEMBERS);
const splitEnvelopeDown = (buf) => splitEnvelope(buf, DOWN_MEMBERS);

// ---------------------------------------------------------------------------
// Keys: helium binary = tag (0x01 mainnet / 0x11 testnet ed25519) || 32 B.

const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

function isEd25519Binary(b) {
  return b && b.length === 33 && (b[0] === 0x01 || b[0] === 0x11);
}

// Helium binary (33 B) -> KeyObject, or null when not an ed25519 key.
function publicKeyFromBinary(b) {
  if (!isEd25519Binary(b)) return null;
  try {
    return crypto.createPublicKey({
      key: Buffer.concat([SPKI_ED25519, b.subarray(1)]),
      format: 'der',
      type: 'spki',
    });
  } catch (e) {
    return null;
  }
}

function verify(keyObject, data, sig) {
  if (!keyObject || !sig || sig.length !== 64) return false;
  try {
    return crypto.verify(null, data, keyObject, sig);
  } catch (e) {
    return false;
  }
}

// A fresh keypair: {privateKey, publicKey, binary (33 B, tag 0x01)}.
function newKeypair(tag = 0x01) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const raw = spki.subarray(spki.length - 32);
  return { privateKey, publicKey, binary: Buffer.concat([Buffer.from([tag]), raw]) };
}

function sign(privateKey, data) {
  return crypto.sign(null, data, privateKey);
}

module.exports = {
  root,
  T,
  METHOD_PATH,
  PROTO_DIR,
  toBig,
  toNum,
  canonical,
  frameField,
  splitEnvelopeUp,
  splitEnvelopeDown,
  isEd25519Binary,
  publicKeyFromBinary,
  verify,
  newKeypair,
  sign,
};
