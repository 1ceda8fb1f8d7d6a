import net from 'node:net';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_CLIENT_HELLO_BYTES, inspectClientHello, type HelloResult } from '../../../src/listener/client-hello.js';

const TLS13 = 0x0304;
const TLS12 = 0x0303;

/**
 * The bytes a real Node TLS client sends first. The server never answers, so the client sends
 * nothing but its ClientHello; Node puts it in a single record, whose header says when we have it all.
 */
function captureClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let client: tls.TLSSocket | undefined;
    const server = net.createServer((socket) => {
      let got = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length >= 5 && got.length >= 5 + got.readUInt16BE(3)) {
          socket.destroy();
          client?.destroy();
          server.close();
          resolve(got);
        }
      });
      socket.on('error', reject);
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      client = tls.connect({ port, rejectUnauthorized: false, ...options });
      // The server hangs up mid-handshake on purpose.
      client.on('error', () => {});
    });
  });
}

/** The handshake message (header included) carried by a single-record hello. */
function handshakeOf(record: Buffer): Buffer {
  return record.subarray(5, 5 + record.readUInt16BE(3));
}

function record(fragment: Buffer, type = 0x16, version = 0x0301): Buffer {
  const header = Buffer.alloc(5);
  header[0] = type;
  header.writeUInt16BE(version, 1);
  header.writeUInt16BE(fragment.length, 3);
  return Buffer.concat([header, fragment]);
}

/** Re-frames a handshake message into records cut at the given offsets of the message. */
function reframe(message: Buffer, cuts: number[]): Buffer {
  const bounds = [0, ...cuts, message.length];
  const records: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) records.push(record(message.subarray(bounds[i], bounds[i + 1])));
  return Buffer.concat(records);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function vec8(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([body.length]), body]);
}

function vec16(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([u16(body.length), body]);
}

function extension(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), vec16(data)]);
}

function sniExtension(name: Buffer | string): Buffer {
  return extension(0, vec16(Buffer.from([0]), vec16(Buffer.from(name))));
}

function alpnExtension(...protocols: string[]): Buffer {
  return extension(16, vec16(...protocols.map((p) => vec8(Buffer.from(p, 'latin1')))));
}

function versionsExtension(...versions: number[]): Buffer {
  return extension(43, vec8(...versions.map(u16)));
}

/**
 * A hand-made ClientHello handshake message (header included), for the shapes real clients do
 * not produce. `extensions: null` leaves the extensions block out entirely, as pre-RFC 3546 clients did.
 */
function handmade(opts: { extensions?: Buffer[] | null; legacyVersion?: number; sessionId?: Buffer; cipherSuites?: Buffer; compression?: Buffer; trailing?: Buffer } = {}): Buffer {
  const extensions = opts.extensions === undefined ? [sniExtension('shop.example.com')] : opts.extensions;
  const body = Buffer.concat([
    u16(opts.legacyVersion ?? TLS12),
    Buffer.alloc(32, 0xab),
    vec8(opts.sessionId ?? Buffer.alloc(32, 1)),
    vec16(opts.cipherSuites ?? Buffer.from([0x13, 0x01, 0xc0, 0x2f])),
    vec8(opts.compression ?? Buffer.from([0])),
    extensions === null ? Buffer.alloc(0) : vec16(...extensions),
    opts.trailing ?? Buffer.alloc(0),
  ]);
  const header = Buffer.from([1, 0, 0, 0]);
  header.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([header, body]);
}

function inspectRecord(message: Buffer): HelloResult {
  return inspectClientHello(record(message));
}

function expectInvalid(result: HelloResult, reason?: RegExp): void {
  expect(result.kind).toBe('invalid');
  if (reason && result.kind === 'invalid') expect(result.reason).toMatch(reason);
}

function tlsResult(result: HelloResult): Extract<HelloResult, { kind: 'tls' }> {
  if (result.kind !== 'tls') throw new Error(`expected tls, got ${JSON.stringify(result)}`);
  return result;
}

describe('inspectClientHello on real ClientHellos', () => {
  let withSni: Buffer;
  let noSni: Buffer;
  let tls12: Buffer;
  let ipHost: Buffer;

  beforeAll(async () => {
    [withSni, noSni, tls12, ipHost] = await Promise.all([
      captureClientHello({ host: '127.0.0.1', servername: 'shop.example.com', ALPNProtocols: ['h2', 'http/1.1'] }),
      // tls.connect never derives SNI from `host` (https.Agent does); without `servername` there is none.
      captureClientHello({ host: 'localhost' }),
      captureClientHello({ host: '127.0.0.1', servername: 'shop.example.com', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }),
      captureClientHello({ host: '127.0.0.1' }),
    ]);
  });

  it('reads SNI, ALPN and supported_versions from a TLS 1.3-capable client', () => {
    const hello = tlsResult(inspectClientHello(withSni));
    expect(hello.serverName).toBe('shop.example.com');
    expect(hello.alpn).toEqual(['h2', 'http/1.1']);
    expect(hello.legacyVersion).toBe(TLS12);
    expect(hello.supportedVersions).toContain(TLS13);
  });

  it('reports no server name when the client sends none', () => {
    const hello = tlsResult(inspectClientHello(noSni));
    expect(hello.serverName).toBeNull();
    expect(hello.alpn).toEqual([]);
    expect(hello.supportedVersions).toContain(TLS13);
  });

  it('reports no server name for an IP address host', () => {
    expect(tlsResult(inspectClientHello(ipHost)).serverName).toBeNull();
  });

  it('reads a TLS 1.2-only hello, which has no supported_versions', () => {
    const hello = tlsResult(inspectClientHello(tls12));
    expect(hello.serverName).toBe('shop.example.com');
    expect(hello.legacyVersion).toBe(TLS12);
    expect(hello.supportedVersions).not.toContain(TLS13);
  });

  it('needs more until the last byte when fed one byte at a time', () => {
    const whole = inspectClientHello(withSni);
    for (let n = 0; n < withSni.length; n++) {
      expect(inspectClientHello(withSni.subarray(0, n)), `after ${n} bytes`).toEqual({ kind: 'need-more' });
    }
    expect(inspectClientHello(withSni)).toEqual(whole);
  });

  it('gives the same answer when the hello is split across two records', () => {
    const message = handshakeOf(withSni);
    const whole = inspectClientHello(withSni);
    const split = reframe(message, [Math.floor(message.length / 2)]);
    expect(split.length).toBe(withSni.length + 5);
    expect(inspectClientHello(split)).toEqual(whole);
    // Both halves must arrive before there is an answer, and the second record's header counts.
    for (let n = 0; n < split.length; n++) expect(inspectClientHello(split.subarray(0, n)).kind).toBe('need-more');
  });

  it('gives the same answer however the record layer fragments the message', () => {
    const message = handshakeOf(withSni);
    const whole = inspectClientHello(withSni);
    // Cuts inside the 4-byte handshake header, one byte per record, and many small records.
    expect(inspectClientHello(reframe(message, [1]))).toEqual(whole);
    expect(inspectClientHello(reframe(message, [2]))).toEqual(whole);
    expect(inspectClientHello(reframe(message, [1, 2, 3, 4]))).toEqual(whole);
    const every7 = Array.from({ length: Math.floor((message.length - 1) / 7) }, (_, i) => (i + 1) * 7);
    expect(inspectClientHello(reframe(message, every7))).toEqual(whole);
    const everyByte = Array.from({ length: message.length - 1 }, (_, i) => i + 1);
    expect(inspectClientHello(reframe(message, everyByte))).toEqual(whole);
  });

  it('ignores what follows the hello (early data, a second flight)', () => {
    const whole = inspectClientHello(withSni);
    const withEarlyData = Buffer.concat([withSni, record(Buffer.from([1]), 0x14, 0x0303), record(Buffer.alloc(40, 7), 0x17, 0x0303)]);
    expect(inspectClientHello(withEarlyData)).toEqual(whole);
  });

  it('never throws on a byte set to 0xff (or 0x00) at any offset', () => {
    const kinds = new Set<string>();
    for (const hello of [withSni, tls12, reframe(handshakeOf(withSni), [3, 100])]) {
      for (let i = 0; i < hello.length; i++) {
        for (const value of [0xff, 0x00]) {
          const corrupt = Buffer.from(hello);
          corrupt[i] = value;
          const result = inspectClientHello(corrupt);
          expect(['need-more', 'not-tls', 'invalid', 'tls'], `byte ${i} = ${value}`).toContain(result.kind);
          // Only the first two bytes decide "is this TLS at all".
          if (result.kind === 'not-tls') expect(i).toBeLessThan(2);
          kinds.add(result.kind);
        }
      }
    }
    // The corruptions really do exercise every outcome, not just one.
    expect([...kinds].sort()).toEqual(['invalid', 'need-more', 'not-tls', 'tls']);
  });

  it('never throws on random multi-byte corruption', () => {
    let seed = 0x12345678;
    const random = (): number => {
      // xorshift32: deterministic, so a failure reproduces.
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    for (let round = 0; round < 3000; round++) {
      const corrupt = Buffer.from(withSni);
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) corrupt[2 + Math.floor(random() * (corrupt.length - 2))] = Math.floor(random() * 256);
      const cut = random() < 0.3 ? Math.floor(random() * corrupt.length) : corrupt.length;
      expect(() => inspectClientHello(corrupt.subarray(0, cut))).not.toThrow();
    }
  });

  it('answers need-more for every truncation, also of the fragmented form', () => {
    for (const hello of [withSni, noSni, tls12, reframe(handshakeOf(tls12), [2, 50, 51])]) {
      for (let n = 0; n < hello.length; n++) expect(inspectClientHello(hello.subarray(0, n)).kind).toBe('need-more');
    }
  });

  it('rejects a record whose length stops short of the bytes that follow it', () => {
    // The record claims only the 4-byte handshake header, so the message body that follows is read
    // as the next record header, which starts with legacy_version's 0x03, not a handshake record type.
    const message = handshakeOf(withSni);
    const lying = Buffer.concat([record(message.subarray(0, 4)), message.subarray(4)]);
    expect(message[4]).not.toBe(0x16);
    expectInvalid(inspectClientHello(lying), /interleaved/);
  });
});

describe('inspectClientHello on what is not TLS', () => {
  it('decides from the first byte when it is not a handshake record', () => {
    expect(inspectClientHello(Buffer.from('GET / HTTP/1.1\r\nHost: shop.example.com\r\n\r\n'))).toEqual({ kind: 'not-tls' });
    expect(inspectClientHello(Buffer.from('G'))).toEqual({ kind: 'not-tls' });
    expect(inspectClientHello(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'))).toEqual({ kind: 'not-tls' });
    expect(inspectClientHello(Buffer.from('P'))).toEqual({ kind: 'not-tls' });
    // An SSLv2-compatible hello: 2-byte length with the high bit set.
    expect(inspectClientHello(Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01]))).toEqual({ kind: 'not-tls' });
  });

  it('decides from the second byte when the first is 0x16 but the record version is not TLS', () => {
    expect(inspectClientHello(Buffer.from([0x16, 0x01]))).toEqual({ kind: 'not-tls' });
    expect(inspectClientHello(Buffer.from([0x16, 0x00, 0x00, 0x00]))).toEqual({ kind: 'not-tls' });
  });

  it('needs more when nothing, or only the handshake content type, has arrived', () => {
    expect(inspectClientHello(Buffer.alloc(0))).toEqual({ kind: 'need-more' });
    expect(inspectClientHello(Buffer.from([0x16]))).toEqual({ kind: 'need-more' });
    expect(inspectClientHello(Buffer.from([0x16, 0x03]))).toEqual({ kind: 'need-more' });
    expect(inspectClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00]))).toEqual({ kind: 'need-more' });
  });
});

describe('inspectClientHello on hand-made ClientHellos', () => {
  it('parses a minimal hello', () => {
    expect(inspectRecord(handmade())).toEqual({ kind: 'tls', serverName: 'shop.example.com', alpn: [], legacyVersion: TLS12, supportedVersions: [] });
  });

  it('accepts a hello with no extensions block at all', () => {
    expect(inspectRecord(handmade({ extensions: null }))).toEqual({ kind: 'tls', serverName: null, alpn: [], legacyVersion: TLS12, supportedVersions: [] });
    expect(inspectRecord(handmade({ extensions: [] })).kind).toBe('tls');
  });

  it('lower-cases ASCII in the server name and nothing else', () => {
    expect(tlsResult(inspectRecord(handmade({ extensions: [sniExtension('Shop.EXAMPLE.com')] }))).serverName).toBe('shop.example.com');
    expect(tlsResult(inspectRecord(handmade({ extensions: [sniExtension(Buffer.from([0x41, 0xc9, 0x2e, 0x63]))] }))).serverName).toBe('a\u00c9.c');
  });

  it('rejects an invalid server name', () => {
    expectInvalid(inspectRecord(handmade({ extensions: [sniExtension('')] })), /empty server_name/);
    expectInvalid(inspectRecord(handmade({ extensions: [sniExtension('a'.repeat(256))] })), /exceeds 255/);
    expect(tlsResult(inspectRecord(handmade({ extensions: [sniExtension('a'.repeat(255))] }))).serverName).toBe('a'.repeat(255));
    expectInvalid(inspectRecord(handmade({ extensions: [sniExtension(Buffer.from('shop\0evil.com'))] })), /NUL/);
    // Unknown name type, two names, an empty list, and a list length that disagrees with the extension's.
    expectInvalid(inspectRecord(handmade({ extensions: [extension(0, vec16(Buffer.from([1]), vec16(Buffer.from('x'))))] })));
    const twoNames = vec16(Buffer.from([0]), vec16(Buffer.from('a.com')), Buffer.from([0]), vec16(Buffer.from('b.com')));
    expectInvalid(inspectRecord(handmade({ extensions: [extension(0, twoNames)] })), /more than one/);
    expectInvalid(inspectRecord(handmade({ extensions: [extension(0, vec16())] })));
    expectInvalid(inspectRecord(handmade({ extensions: [extension(0, Buffer.concat([u16(50), Buffer.from([0]), vec16(Buffer.from('a.com'))]))] })));
  });

  it('reads ALPN and supported_versions, and rejects malformed ones', () => {
    const hello = tlsResult(inspectRecord(handmade({ extensions: [alpnExtension('h2', 'http/1.1', '\u00ff'), versionsExtension(0x0a0a, TLS13, TLS12)] })));
    expect(hello.alpn).toEqual(['h2', 'http/1.1', '\u00ff']);
    expect(hello.supportedVersions).toEqual([0x0a0a, TLS13, TLS12]);

    expectInvalid(inspectRecord(handmade({ extensions: [alpnExtension()] })), /application_layer/);
    expectInvalid(inspectRecord(handmade({ extensions: [alpnExtension('h2', '')] })), /application_layer/);
    expectInvalid(inspectRecord(handmade({ extensions: [extension(16, Buffer.concat([u16(3), Buffer.from([5]), Buffer.from('h2')]))] })));
    expectInvalid(inspectRecord(handmade({ extensions: [extension(43, vec8())] })), /supported_versions/);
    expectInvalid(inspectRecord(handmade({ extensions: [extension(43, vec8(Buffer.from([3, 4, 3])))] })), /supported_versions/);
  });

  it('rejects a repeated extension', () => {
    expectInvalid(inspectRecord(handmade({ extensions: [sniExtension('a.com'), sniExtension('b.com')] })), /repeated/);
    expectInvalid(inspectRecord(handmade({ extensions: [extension(21, Buffer.alloc(2)), extension(21, Buffer.alloc(2))] })), /repeated/);
  });

  it('rejects malformed fixed fields', () => {
    expectInvalid(inspectRecord(handmade({ legacyVersion: 0x0200 })), /legacy_version/);
    expectInvalid(inspectRecord(handmade({ sessionId: Buffer.alloc(33) })), /session_id/);
    expectInvalid(inspectRecord(handmade({ cipherSuites: Buffer.alloc(0) })), /cipher_suites/);
    expectInvalid(inspectRecord(handmade({ cipherSuites: Buffer.alloc(3) })), /cipher_suites/);
    expectInvalid(inspectRecord(handmade({ compression: Buffer.alloc(0) })), /compression/);
    expectInvalid(inspectRecord(handmade({ trailing: Buffer.from([0]) })), /after the extensions/);
  });

  it('rejects a body shorter than its fields', () => {
    const full = handmade();
    const withoutExtensions = handmade({ extensions: null }).length - 4;
    for (let bodyLength = 0; bodyLength < full.length - 4; bodyLength++) {
      // Keep the bytes but claim a shorter message, so every field in turn is cut off.
      const cut = Buffer.from(full.subarray(0, 4 + bodyLength));
      cut.writeUIntBE(bodyLength, 1, 3);
      const result = inspectRecord(cut);
      // Cut just before the extensions block, it is a well-formed extension-less hello.
      if (bodyLength === withoutExtensions) expect(result.kind).toBe('tls');
      else expectInvalid(result);
    }
  });

  it('rejects malformed records and a first handshake message that is not a ClientHello', () => {
    const message = handmade();
    expectInvalid(inspectClientHello(record(Buffer.alloc(0))), /empty/);
    const serverHello = Buffer.from(message);
    serverHello[0] = 2;
    expectInvalid(inspectClientHello(record(serverHello)), /not ClientHello/);
    // An alert record between the two fragments of the hello.
    const interleaved = Buffer.concat([record(message.subarray(0, 10)), record(Buffer.from([2, 40]), 0x15), record(message.subarray(10))]);
    expectInvalid(inspectClientHello(interleaved), /interleaved/);
    const badVersion = Buffer.concat([record(message.subarray(0, 10)), record(message.subarray(10), 0x16, 0x0201)]);
    expectInvalid(inspectClientHello(badVersion), /record version/);
    const oversizedRecord = Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01]);
    expectInvalid(inspectClientHello(oversizedRecord), /2\^14/);
  });
});

describe('MAX_CLIENT_HELLO_BYTES', () => {
  /** A hello padded (RFC 7685 padding extension) to a given handshake message size. */
  function paddedTo(messageBytes: number): Buffer {
    const base = handmade({ extensions: [sniExtension('big.example.com')] }).length;
    const padding = messageBytes - base - 4;
    return handmade({ extensions: [sniExtension('big.example.com'), extension(21, Buffer.alloc(padding))] });
  }

  /** Frames a message into records of at most 2^14 bytes, as a TLS stack would. */
  function framed(message: Buffer): Buffer {
    const cuts: number[] = [];
    for (let at = 1 << 14; at < message.length; at += 1 << 14) cuts.push(at);
    return reframe(message, cuts);
  }

  it('is Envoy’s 64 KiB and leaves room for a hello larger than one record', () => {
    expect(MAX_CLIENT_HELLO_BYTES).toBe(65536);
    const big = framed(paddedTo(40_000));
    expect(big.length).toBeGreaterThan(1 << 14);
    expect(tlsResult(inspectClientHello(big)).serverName).toBe('big.example.com');
  });

  it('accepts a hello that ends exactly at the limit and refuses one byte more', () => {
    // Four records, so four 5-byte headers: messageBytes + 20 = MAX.
    const atLimit = framed(paddedTo(MAX_CLIENT_HELLO_BYTES - 20));
    expect(atLimit.length).toBe(MAX_CLIENT_HELLO_BYTES);
    expect(inspectClientHello(atLimit).kind).toBe('tls');
    const over = framed(paddedTo(MAX_CLIENT_HELLO_BYTES - 19));
    expect(over.length).toBe(MAX_CLIENT_HELLO_BYTES + 1);
    expectInvalid(inspectClientHello(over), /exceeds/);
  });

  it('refuses an oversized hello from its header, without waiting for the bytes', () => {
    const over = framed(paddedTo(MAX_CLIENT_HELLO_BYTES));
    expectInvalid(inspectClientHello(over.subarray(0, 9)), /exceeds/);
    expectInvalid(inspectClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff])), /exceeds/);
  });

  it('refuses a hello whose tiny records push it past the limit', () => {
    // 20 000 bytes of message in 1-byte records is 120 000 bytes on the wire.
    const message = paddedTo(20_000);
    const everyByte = Array.from({ length: message.length - 1 }, (_, i) => i + 1);
    const wire = reframe(message, everyByte);
    expectInvalid(inspectClientHello(wire), /exceeds/);
    // It is refused as soon as the limit is crossed, not only once the whole hello is in.
    expectInvalid(inspectClientHello(wire.subarray(0, MAX_CLIENT_HELLO_BYTES + 1)), /exceeds/);
    expect(inspectClientHello(wire.subarray(0, MAX_CLIENT_HELLO_BYTES - 10)).kind).toBe('need-more');
  });
});

