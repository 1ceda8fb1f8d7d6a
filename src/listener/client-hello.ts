/**
 * Peeks at the first bytes of a new connection, as Envoy's tls_inspector listener filter does, so a
 * filter chain can be chosen (terminate with the right certificate, or pass the bytes through
 * untouched) before any TLS stack sees the connection. Nothing here consumes or alters the bytes:
 * the caller keeps them and replays them into whichever chain wins.
 */

export type HelloResult =
  /** A TLS record has begun (or nothing has arrived yet) and the ClientHello is not complete: read more and call again with everything so far. */
  | { kind: 'need-more' }
  /** The first bytes are not a TLS handshake record (plain HTTP, the HTTP/2 preface, an SSLv2-style hello, ...). */
  | { kind: 'not-tls' }
  /**
   * A complete, well-formed ClientHello. `serverName` is lower-cased; `alpn` and `supportedVersions`
   * are in the client's order, GREASE values included, as sent.
   */
  | { kind: 'tls'; serverName: string | null; alpn: string[]; legacyVersion: number; supportedVersions: number[] }
  /** Starts like TLS but is malformed, or is larger than MAX_CLIENT_HELLO_BYTES. */
  | { kind: 'invalid'; reason: string };

/**
 * How many bytes from the start of the connection a ClientHello may occupy, record headers included.
 *
 * 64 KiB is Envoy's TLS_MAX_CLIENT_HELLO, the default (and ceiling) of tls_inspector's
 * max_client_hello_size, so a hello Envoy would inspect is one we inspect too. A single 16 KiB record
 * would be too tight: hellos carrying post-quantum key shares, several PSK identities or padding
 * already run to several KiB and may legitimately span records. The bound exists because the caller
 * buffers everything until we answer; 64 KiB per pending connection is an acceptable worst case.
 */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

const CONTENT_TYPE_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 1;
const RECORD_HEADER_BYTES = 5;
const HANDSHAKE_HEADER_BYTES = 4;
// RFC 8446 5.1: a larger plaintext fragment is a record_overflow, so no real client sends one.
const MAX_RECORD_FRAGMENT = 1 << 14;
const MAX_HOST_NAME_BYTES = 255;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;
const SNI_HOST_NAME = 0;

// Shared because they carry no data; every connection that is not (yet) TLS would otherwise allocate one.
const NEED_MORE: HelloResult = Object.freeze({ kind: 'need-more' });
const NOT_TLS: HelloResult = Object.freeze({ kind: 'not-tls' });

function invalid(reason: string): HelloResult {
  return { kind: 'invalid', reason };
}

/**
 * Decides whether `buf` (every byte received on the connection so far) begins with a TLS
 * ClientHello, and if so what it asks for. Bytes after the ClientHello (early data, say) are ignored.
 * Each call rescans from the start, so feed it what a socket read delivers rather than byte by byte.
 */
export function inspectClientHello(buf: Buffer): HelloResult {
  // Decide "not TLS" from as few bytes as possible: a plain-text client may send fewer bytes than a
  // record header and then wait for a reply, and asking for more would stall it until a timeout.
  if (buf.length === 0) return NEED_MORE;
  if (buf[0] !== CONTENT_TYPE_HANDSHAKE) return NOT_TLS;
  if (buf.length === 1) return NEED_MORE;
  if (buf[1] !== 3) return NOT_TLS;

  const message = reassembleHandshake(buf);
  if (!Buffer.isBuffer(message)) return message;
  return parseClientHello(message);
}

/**
 * Collects the first handshake message from the records at the start of `buf`. The record layer may
 * split a handshake message anywhere, even inside its 4-byte header, so the length is only known
 * once enough fragments have arrived.
 */
function reassembleHandshake(buf: Buffer): Buffer | HelloResult {
  const fragments: Buffer[] = [];
  let have = 0;
  // Handshake header plus body; unknown until four bytes of the message are in.
  let total = -1;
  let pos = 0;

  for (;;) {
    const fragmentStart = pos + RECORD_HEADER_BYTES;
    if (fragmentStart > MAX_CLIENT_HELLO_BYTES) return tooLarge();
    if (fragmentStart > buf.length) return NEED_MORE;

    // The first record's type and version were checked by the caller; later ones are checked here
    // because RFC 8446 5.1 forbids interleaving other record types with a handshake message.
    if (buf[pos] !== CONTENT_TYPE_HANDSHAKE) {
      return invalid(`record type ${buf[pos]} interleaved with the ClientHello`);
    }
    if (buf[pos + 1] !== 3) return invalid(`record version ${hex16(buf.readUInt16BE(pos + 1))} is not TLS`);
    const recordLength = buf.readUInt16BE(pos + 3);
    if (recordLength === 0) return invalid('empty handshake record');
    if (recordLength > MAX_RECORD_FRAGMENT) return invalid(`record of ${recordLength} bytes exceeds 2^14`);

    // Only as much of this record as the message still needs: waiting for the rest of a record
    // whose length overstates the hello would hang the connection for nothing.
    const wanted = total < 0 ? recordLength : Math.min(recordLength, total - have);
    const neededEnd = fragmentStart + wanted;
    if (neededEnd > MAX_CLIENT_HELLO_BYTES) return tooLarge();

    const available = buf.subarray(fragmentStart, Math.min(neededEnd, buf.length));
    fragments.push(available);
    have += available.length;

    if (total < 0 && have >= HANDSHAKE_HEADER_BYTES) {
      const header = fragments.length === 1 ? available : Buffer.concat(fragments, have);
      if (header[0] !== HANDSHAKE_CLIENT_HELLO) return invalid(`first handshake message has type ${header[0]}, not ClientHello`);
      total = HANDSHAKE_HEADER_BYTES + header.readUIntBE(1, 3);
      // Refuse as soon as the declared length makes the hello too large, rather than buffering up to
      // the limit first: every 2^14 bytes of message costs at least one more record header.
      const minimumWireBytes = total + RECORD_HEADER_BYTES * Math.ceil(total / MAX_RECORD_FRAGMENT);
      if (minimumWireBytes > MAX_CLIENT_HELLO_BYTES) return tooLarge();
    }

    if (total >= 0 && have >= total) {
      // Copy only when the message really was fragmented; the common case is a view into `buf`.
      const whole = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments, have);
      return whole.subarray(HANDSHAKE_HEADER_BYTES, total);
    }
    if (neededEnd > buf.length) return NEED_MORE;
    pos = fragmentStart + recordLength;
  }
}

function tooLarge(): HelloResult {
  return invalid(`ClientHello exceeds ${MAX_CLIENT_HELLO_BYTES} bytes`);
}

function hex16(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

/**
 * A bounds-checked cursor over one length-delimited region. Reads past the end return null instead
 * of throwing, so every lying length surfaces as an 'invalid' result rather than a RangeError.
 */
class Reader {
  constructor(
    private readonly buf: Buffer,
    private pos = 0,
    private readonly end = buf.length,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number | null {
    if (this.remaining < 1) return null;
    return this.buf[this.pos++]!;
  }

  u16(): number | null {
    if (this.remaining < 2) return null;
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  /** A sub-reader over the next `n` bytes, which this reader skips. */
  take(n: number): Reader | null {
    if (n > this.remaining) return null;
    const sub = new Reader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return sub;
  }

  /** A sub-reader over a vector whose length prefix is `prefixBytes` wide. */
  vector(prefixBytes: 1 | 2): Reader | null {
    const n = prefixBytes === 1 ? this.u8() : this.u16();
    return n === null ? null : this.take(n);
  }

  bytes(): Buffer {
    return this.buf.subarray(this.pos, this.end);
  }
}

function parseClientHello(body: Buffer): HelloResult {
  const r = new Reader(body);
  const legacyVersion = r.u16();
  if (legacyVersion === null) return invalid('truncated legacy_version');
  // Below 0x0300 is SSLv2 or garbage; no stack we would hand the connection to speaks it.
  if (legacyVersion >> 8 !== 3) return invalid(`legacy_version ${hex16(legacyVersion)} is not TLS`);
  if (r.take(32) === null) return invalid('truncated random');

  const sessionId = r.vector(1);
  if (sessionId === null) return invalid('truncated legacy_session_id');
  if (sessionId.remaining > 32) return invalid(`legacy_session_id of ${sessionId.remaining} bytes exceeds 32`);

  const cipherSuites = r.vector(2);
  if (cipherSuites === null) return invalid('truncated cipher_suites');
  if (cipherSuites.remaining === 0 || cipherSuites.remaining % 2 !== 0) {
    return invalid(`cipher_suites length ${cipherSuites.remaining} is not a non-empty list of 2-byte suites`);
  }

  const compression = r.vector(1);
  if (compression === null) return invalid('truncated legacy_compression_methods');
  if (compression.remaining === 0) return invalid('empty legacy_compression_methods');

  let serverName: string | null = null;
  let alpn: string[] = [];
  let supportedVersions: number[] = [];

  // Hellos from before RFC 3546 end here; there is nothing more to learn from them.
  if (r.remaining > 0) {
    const extensions = r.vector(2);
    if (extensions === null) return invalid('truncated extensions');
    if (r.remaining !== 0) return invalid(`${r.remaining} bytes after the extensions`);

    // RFC 8446 4.2: a repeated extension is an error, and letting a second server_name silently win
    // could route the connection differently from the TLS stack that later reads the first.
    const seen = new Set<number>();
    while (extensions.remaining > 0) {
      const type = extensions.u16();
      const data = type === null ? null : extensions.vector(2);
      if (type === null || data === null) return invalid('truncated extension');
      if (seen.has(type)) return invalid(`extension ${type} repeated`);
      seen.add(type);

      if (type === EXT_SERVER_NAME) {
        const name = parseServerName(data);
        if (typeof name !== 'string') return invalid(name.reason);
        serverName = name;
      } else if (type === EXT_ALPN) {
        const protocols = parseAlpn(data);
        if (protocols === null) return invalid('malformed application_layer_protocol_negotiation');
        alpn = protocols;
      } else if (type === EXT_SUPPORTED_VERSIONS) {
        const versions = parseSupportedVersions(data);
        if (versions === null) return invalid('malformed supported_versions');
        supportedVersions = versions;
      }
    }
  }
  return { kind: 'tls', serverName, alpn, legacyVersion, supportedVersions };
}

/**
 * RFC 6066 allows a list of names of several types, but in practice it is exactly one host_name:
 * BoringSSL (Envoy's TLS stack) rejects anything else, as it does a NUL byte, so we do too rather
 * than route a connection the terminating stack would refuse.
 */
function parseServerName(data: Reader): string | { reason: string } {
  const list = data.vector(2);
  if (list === null || data.remaining !== 0) return { reason: 'malformed server_name' };
  const nameType = list.u8();
  const hostName = nameType === null ? null : list.vector(2);
  if (nameType === null || hostName === null) return { reason: 'malformed server_name' };
  if (list.remaining !== 0) return { reason: 'server_name lists more than one name' };
  if (nameType !== SNI_HOST_NAME) return { reason: `server_name of unknown type ${nameType}` };

  const bytes = hostName.bytes();
  if (bytes.length === 0) return { reason: 'empty server_name' };
  if (bytes.length > MAX_HOST_NAME_BYTES) return { reason: `server_name of ${bytes.length} bytes exceeds ${MAX_HOST_NAME_BYTES}` };
  if (bytes.includes(0)) return { reason: 'server_name contains a NUL byte' };
  // latin1 keeps one character per byte, and lower-casing only A-Z keeps a non-ASCII byte from being
  // case-folded into something that happens to match a configured host.
  return bytes.toString('latin1').replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/** RFC 7301 3.1: a non-empty list of non-empty, 1-byte-length-prefixed names. */
function parseAlpn(data: Reader): string[] | null {
  const list = data.vector(2);
  if (list === null || data.remaining !== 0 || list.remaining === 0) return null;
  const protocols: string[] = [];
  while (list.remaining > 0) {
    const name = list.vector(1);
    if (name === null || name.remaining === 0) return null;
    // Protocol ids are opaque bytes, not UTF-8; latin1 round-trips them exactly.
    protocols.push(name.bytes().toString('latin1'));
  }
  return protocols;
}

/** RFC 8446 4.2.1: in a ClientHello, a 1-byte-length-prefixed list of at least one 2-byte version. */
function parseSupportedVersions(data: Reader): number[] | null {
  const list = data.vector(1);
  if (list === null || data.remaining !== 0 || list.remaining === 0 || list.remaining % 2 !== 0) return null;
  const versions: number[] = [];
  while (list.remaining > 0) versions.push(list.u16()!);
  return versions;
}
