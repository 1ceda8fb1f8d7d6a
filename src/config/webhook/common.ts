// Primitives shared by the per-kind rules, ported from Istio's pkg/config/validation/agent, the
// helpers at the top of pkg/config/validation/validation.go, header_value_validator.go and
// pkg/config/{labels,visibility,protocol}. Each returns an error message, or undefined when the
// value is valid; the caller decides the path and the severity. Messages keep Istio's wording,
// because operators search for it.
import type { Findings, SpecPath, WebhookContext } from './types.js';
import { memoByText } from '../memo.js';

// ---------------------------------------------------------------------------------------------
// Go formatting helpers
// ---------------------------------------------------------------------------------------------

/** Go's %q for the strings these rules print (JSON quoting matches it for printable text). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

// ---------------------------------------------------------------------------------------------
// Durations (Go's time.ParseDuration and Duration.String, exact to the nanosecond)
// ---------------------------------------------------------------------------------------------

const NS_PER_UNIT: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const NS_PER_MS = 1_000_000n;
const NS_PER_SECOND = 1_000_000_000n;
const DURATION_PART = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/y;
const TRAILING_ZEROS = /0+$/;

/** Go's time.ParseDuration as nanoseconds (sign allowed, "0" alone allowed); undefined if unparsable. */
export function durationNs(text: unknown): bigint | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  return durationNsOfText(text);
}

// Routes repeat the same few durations: each text is read once.
const durationNsOfText = memoByText(readDurationNs);

function readDurationNs(text: string): bigint | undefined {
  let pos = 0;
  let negative = false;
  if (text[0] === '-' || text[0] === '+') {
    negative = text[0] === '-';
    pos = 1;
  }
  if (text.slice(pos) === '0') return 0n;
  if (pos === text.length) return undefined;
  let total = 0n;
  while (pos < text.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(text);
    if (!m) return undefined;
    const [, whole = '', fraction = '', unit] = m;
    // "." alone or no digits at all is not a number in Go's grammar.
    if (whole === '' && fraction === '') return undefined;
    const scale = NS_PER_UNIT[unit!]!;
    total += BigInt(whole || '0') * scale;
    if (fraction !== '') total += (BigInt(fraction) * scale) / 10n ** BigInt(fraction.length);
    pos = DURATION_PART.lastIndex;
  }
  return negative ? -total : total;
}

/** Go's time.ParseDuration-style text ("1.5s", "100ms") to milliseconds; undefined if unparsable. */
export function durationMs(text: unknown): number | undefined {
  const ns = durationNs(text);
  return ns === undefined ? undefined : Number(ns) / 1e6;
}

/** The digits after the point of `frac / 10^prec`, without trailing zeros (Go's fmtFrac). */
function fractionDigits(frac: bigint, prec: number): string {
  if (frac === 0n) return '';
  const digits = frac.toString().padStart(prec, '0').replace(TRAILING_ZEROS, '');
  return `.${digits}`;
}

/** Go's time.Duration.String() ("1h0m0s", "1.5s", "100ms", "0s"). */
export function formatGoDuration(ns: bigint): string {
  const sign = ns < 0n ? '-' : '';
  const u = ns < 0n ? -ns : ns;
  if (u === 0n) return '0s';
  if (u < NS_PER_SECOND) {
    // Below a second Go switches to the largest unit that keeps an integer part.
    if (u < 1_000n) return `${sign}${u}ns`;
    if (u < NS_PER_MS) return `${sign}${u / 1_000n}${fractionDigits(u % 1_000n, 3)}µs`;
    return `${sign}${u / NS_PER_MS}${fractionDigits(u % NS_PER_MS, 6)}ms`;
  }
  const seconds = `${(u / NS_PER_SECOND) % 60n}${fractionDigits(u % NS_PER_SECOND, 9)}s`;
  const minutes = u / (60n * NS_PER_SECOND);
  if (minutes === 0n) return sign + seconds;
  const hours = minutes / 60n;
  if (hours === 0n) return `${sign}${minutes}m${seconds}`;
  return `${sign}${hours}h${minutes % 60n}m${seconds}`;
}

/** ValidateDuration: at least 1 ms, a whole number of milliseconds. */
export function validateDuration(text: unknown): string | undefined {
  const ns = durationNs(text);
  if (ns === undefined) return `invalid duration ${goQuote(String(text))}`;
  if (ns < NS_PER_MS) return 'duration must be greater than 1ms';
  if (ns % NS_PER_MS !== 0n) return 'only durations to ms precision are supported';
  return undefined;
}

/** ValidateDurationRange. */
export function validateDurationRange(ms: number, minMs: number, maxMs: number): string | undefined {
  if (ms > maxMs || ms < minMs) {
    return `time ${formatGoDuration(msToNs(ms))} must be >${formatGoDuration(msToNs(minMs))} and <${formatGoDuration(msToNs(maxMs))}`;
  }
  return undefined;
}

function msToNs(ms: number): bigint {
  return BigInt(Math.round(ms * 1e6));
}

// ---------------------------------------------------------------------------------------------
// Labels and DNS names (pkg/config/labels)
// ---------------------------------------------------------------------------------------------

export const DNS1123_LABEL_MAX_LENGTH = 63;
const DNS1123_LABEL_FMT = '[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?';
const DNS1123_LABEL = new RegExp(`^${DNS1123_LABEL_FMT}$`);
// A wildcard first label: `*`, or a DNS-1123 label optionally led by `*` or `*-`.
const WILDCARD_DNS1123_LABEL = new RegExp(`^(\\*|(\\*|\\*-)?${DNS1123_LABEL_FMT})$`);
// Kubernetes label keys: an optional DNS-name prefix and `/`, then a qualified name.
const QUALIFIED_NAME_FMT = '(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const DNS_NAME_PREFIX_FMT = `${DNS1123_LABEL_FMT}(?:\\.${DNS1123_LABEL_FMT})*/`;
const DNS_NAME_PREFIX_MAX_LENGTH = 253;
const LABEL_KEY = new RegExp(`^(${DNS_NAME_PREFIX_FMT})?(${QUALIFIED_NAME_FMT})$`);
const LABEL_VALUE = new RegExp(`^(${QUALIFIED_NAME_FMT})?$`);

/** labels.IsDNS1123Label. */
export function isDNS1123Label(value: string): boolean {
  return value.length <= DNS1123_LABEL_MAX_LENGTH && DNS1123_LABEL.test(value);
}

/** labels.IsWildcardDNS1123Label: also `*`, `*foo`, `*-foo`. */
export function isWildcardDNS1123Label(value: string): boolean {
  return value.length <= DNS1123_LABEL_MAX_LENGTH && WILDCARD_DNS1123_LABEL.test(value);
}

function labelKeyError(key: string): string | undefined {
  const m = LABEL_KEY.exec(key);
  if (!m) return `invalid tag key: ${goQuote(key)}`;
  const prefix = m[1] ?? '';
  if (prefix.length > 0 && prefix.length - 1 > DNS_NAME_PREFIX_MAX_LENGTH) {
    return `invalid tag key: ${goQuote(key)} (DNS prefix is too long)`;
  }
  if ((m[2] ?? '').length > DNS1123_LABEL_MAX_LENGTH) return `invalid tag key: ${goQuote(key)} (name is too long)`;
  return undefined;
}

/** labels.Instance.Validate, per entry: the key and the value of one label, as Kubernetes allows them. */
export function validateLabel(key: string, value: string): string[] {
  const errors: string[] = [];
  const keyError = labelKeyError(key);
  if (keyError) errors.push(keyError);
  if (!LABEL_VALUE.test(value)) errors.push(`invalid tag value: ${goQuote(value)}`);
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Ports and protocols (pkg/config/protocol)
// ---------------------------------------------------------------------------------------------

/** Istio's protocol names, parsed case-insensitively (protocol.Parse); anything else is unsupported. */
const PROTOCOLS: Record<string, string> = {
  tcp: 'TCP',
  udp: 'UDP',
  grpc: 'GRPC',
  'grpc-web': 'GRPC-Web',
  http: 'HTTP',
  http_proxy: 'HTTP_PROXY',
  http2: 'HTTP2',
  https: 'HTTPS',
  tls: 'TLS',
  mongo: 'Mongo',
  redis: 'Redis',
  mysql: 'MySQL',
};
export const UNSUPPORTED_PROTOCOL = 'UnsupportedProtocol';
const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'HTTP_PROXY', 'GRPC', 'GRPC-Web']);
const TLS_PROTOCOLS = new Set(['HTTPS', 'TLS']);

/** protocol.Parse: the canonical protocol name, or UNSUPPORTED_PROTOCOL. */
export function parseProtocol(text: string | undefined): string {
  return PROTOCOLS[(text ?? '').toLowerCase()] ?? UNSUPPORTED_PROTOCOL;
}
/** protocol.Instance.IsHTTP. */
export function isHTTPProtocol(text: string | undefined): boolean {
  return HTTP_PROTOCOLS.has(parseProtocol(text));
}
/** protocol.Instance.IsTLS (HTTPS, TLS). */
export function isTLSProtocol(text: string | undefined): boolean {
  return TLS_PROTOCOLS.has(parseProtocol(text));
}

export function validatePort(port: number): string | undefined {
  if (Number.isInteger(port) && port >= 1 && port <= 65535) return undefined;
  return `port number ${port} must be in the range 1..65535`;
}

export function validatePortName(name: string): string | undefined {
  return isDNS1123Label(name) ? undefined : `invalid port name: ${name}`;
}

export function validateProtocol(protocol: string): string | undefined {
  // The empty protocol asks for protocol sniffing.
  if (protocol !== '' && parseProtocol(protocol) === UNSUPPORTED_PROTOCOL) return `unsupported protocol: ${protocol}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Host names
// ---------------------------------------------------------------------------------------------

const ALL_DIGITS = /^[+-]?\d+$/;
const INT64_MAX = 9_223_372_036_854_775_807n;
const INT64_MIN = -9_223_372_036_854_775_808n;
const OUTBOUND_SNI_PREFIX = 'outbound';
const OUTBOUND_SNI_FORMAT = 'outbound_.<PORT>_._.<HOSTNAME>';
const HAS_DIGIT = /[0-9]/;
const HAS_LETTER = /[a-zA-Z]/;

/** Go's strconv.Atoi succeeds (an optionally signed decimal that fits in 64 bits). */
function isGoInt(text: string): boolean {
  if (!ALL_DIGITS.test(text)) return false;
  const n = BigInt(text);
  return n >= INT64_MIN && n <= INT64_MAX;
}

/** CheckDNS1123Preconditions, shared by wildcard hosts and FQDNs. */
function checkDNS1123Preconditions(name: string): string | undefined {
  if (name.length > 255) return `domain name ${goQuote(name)} too long (max 255)`;
  if (name.length === 0) return 'empty domain name not allowed';
  return undefined;
}

export function validateDNS1123Labels(domain: string): string | undefined {
  return plainDNS1123Labels(domain, 0) ? undefined : dns1123LabelsVerdict(domain);
}

/** validateDNS1123Labels the long way, which words the message (exported for the test of the quick way). */
export function dns1123LabelsVerdict(domain: string): string | undefined {
  const parts = domain.split('.');
  const topLevelDomain = parts[parts.length - 1]!;
  if (isGoInt(topLevelDomain)) {
    return `domain name ${goQuote(domain)} invalid (top level domain ${goQuote(topLevelDomain)} cannot be all-numeric)`;
  }
  for (let i = 0; i < parts.length; i++) {
    const label = parts[i]!;
    // The last label may be empty, for unambiguous names like `istio.io.`.
    if (i === parts.length - 1 && label === '') return undefined;
    if (!isDNS1123Label(label)) return `domain name ${goQuote(domain)} invalid (label ${goQuote(label)} invalid)`;
  }
  return undefined;
}

export function validateFQDN(fqdn: string): string | undefined {
  return checkDNS1123Preconditions(fqdn) ?? validateDNS1123Labels(fqdn);
}

// A config names the same destination hosts again and again (400 routes to one service): their
// verdicts are kept, up to a bound, as they depend on the text alone.
const wildcardDomainVerdicts = new Map<string, string | null>();
const VERDICTS_KEPT = 4096;

// The last name said yes to: routes name the same destination host one after another.
let lastPlainDomain: string | undefined;

export function validateWildcardDomain(domain: string): string | undefined {
  if (domain === lastPlainDomain) return undefined;
  if (plainWildcardDomain(domain)) {
    lastPlainDomain = domain;
    return undefined;
  }
  const kept = wildcardDomainVerdicts.get(domain);
  if (kept !== undefined) return kept ?? undefined;
  const verdict = wildcardDomainVerdict(domain);
  if (wildcardDomainVerdicts.size >= VERDICTS_KEPT) wildcardDomainVerdicts.clear();
  wildcardDomainVerdicts.set(domain, verdict ?? null);
  return verdict;
}

/** validateWildcardDomain the long way (exported for the test of the quick way). */
export function wildcardDomainVerdict(domain: string): string | undefined {
  const precondition = checkDNS1123Preconditions(domain);
  if (precondition) return precondition;
  // Wildcards are allowed in the first label only.
  const dot = domain.indexOf('.');
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (!isWildcardDNS1123Label(first)) return `domain name ${goQuote(domain)} invalid (label ${goQuote(first)} invalid)`;
  return dot < 0 ? undefined : dns1123LabelsVerdict(domain.slice(dot + 1));
}

// Quick yeses for the two validations above, by a scan of the characters: split and a pattern
// per label took 1-2 µs a name, for every VirtualService's host and every gateway name. A name
// they do not say yes to goes the long way, which words the message; a test holds them to it.
const DOT = 46;
const DASH = 45;

/** From `from`: DNS-1123 labels (1-63 characters), the last not all digits; a trailing dot allowed. */
export function plainDNS1123Labels(d: string, from: number): boolean {
  let start = from;
  let allDigits = true;
  for (let i = from; i < d.length; i++) {
    const c = d.charCodeAt(i);
    if (c === DOT) {
      if (!plainLabel(d, start, i)) return false;
      start = i + 1;
      allDigits = true;
    } else if (c < 48 || c > 57) {
      allDigits = false;
      if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === DASH)) return false;
    }
  }
  if (start === d.length) return start > from;
  return !allDigits && plainLabel(d, start, d.length);
}

function plainLabel(d: string, from: number, to: number): boolean {
  return to > from && to - from <= DNS1123_LABEL_MAX_LENGTH && d.charCodeAt(from) !== DASH && d.charCodeAt(to - 1) !== DASH;
}

/** A first label that is `*`, or a DNS-1123 label led by nothing, `*` or `*-`; then plainDNS1123Labels. */
export function plainWildcardDomain(d: string): boolean {
  if (d.length > 255) return false;
  const dot = d.indexOf('.');
  const end = dot < 0 ? d.length : dot;
  if (end === 0 || end > DNS1123_LABEL_MAX_LENGTH) return false;
  let from = 0;
  if (d.charCodeAt(0) === 42) {
    from = end === 1 ? 1 : d.charCodeAt(1) === DASH ? 2 : 1;
    if (from === 2 && end === 2) return false;
  }
  if (from < end) {
    for (let i = from; i < end; i++) {
      const c = d.charCodeAt(i);
      if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === DASH)) return false;
    }
    if (!plainLabel(d, from, end)) return false;
  }
  return dot < 0 || plainDNS1123Labels(d, dot + 1);
}

/** strings.Trim(s, ".") */
function trimDots(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s[start] === '.') start++;
  while (end > start && s[end - 1] === '.') end--;
  return s.slice(start, end);
}

export function validateWildcardDomainForVirtualServiceBoundToGateway(sni: boolean, domain: string): string | undefined {
  const precondition = checkDNS1123Preconditions(domain);
  if (precondition) return precondition;
  // SNI names Istio generates for AUTO_PASSTHROUGH, e.g. outbound_.80_._.e2e.foobar.mesh
  if (sni && domain.startsWith(`${OUTBOUND_SNI_PREFIX}_`)) {
    const parts = domain.split('_');
    if (parts.length < 4) return `domain name ${domain} invalid, should follow '${OUTBOUND_SNI_FORMAT}' format`;
    const direction = parts[0]!;
    const port = trimDots(parts[1]!);
    const hostname = trimDots(parts[3]!);
    if (direction !== OUTBOUND_SNI_PREFIX) return `domain name ${goQuote(domain)} invalid (label ${goQuote(direction)} invalid)`;
    if (!HAS_DIGIT.test(port)) {
      return `domain name ${goQuote(domain)} invalid (label ${goQuote(port)} invalid). should follow ${OUTBOUND_SNI_FORMAT} format`;
    }
    if (!HAS_LETTER.test(hostname)) {
      return `domain name ${goQuote(domain)} invalid (label ${goQuote(hostname)} invalid). should follow ${OUTBOUND_SNI_FORMAT} format`;
    }
    return undefined;
  }
  return validateWildcardDomain(domain);
}

/** ValidatePartialWildCard: returns a message when `*` is used other than as a whole first label. */
export function validatePartialWildcard(host: string): string | undefined {
  if (host.includes('*') && host.length !== 1 && !host.startsWith('*.')) return `partial wildcard ${goQuote(host)} not allowed`;
  return undefined;
}

/** The dnsName half of a Sidecar egress host or a Gateway server host. */
function sidecarOrGatewayHostnamePartErrors(hostname: string, isGateway: boolean): string[] {
  const errors: string[] = [];
  if (hostname !== '*' && !hostname.includes('.')) errors.push('short names (non FQDN) are not allowed');
  const domainError = validateWildcardDomain(hostname);
  // Gateways also accept an IP address as the host. (Istio appends the error twice for a Sidecar;
  // once is enough.)
  if (domainError && (!isGateway || !isIP(hostname))) errors.push(domainError);
  const partial = validatePartialWildcard(hostname);
  if (partial) errors.push(partial);
  return errors;
}

/**
 * ValidateNamespaceSlashWildcardHostname, every error: `namespace/dnsName` hosts of Sidecar egress
 * listeners and Gateway servers (gateways also take a bare dnsName).
 */
export function namespaceSlashWildcardHostnameErrors(hostname: string, isGateway: boolean, gatewaySemantics: boolean): string[] {
  const slash = hostname.indexOf('/');
  if (slash < 0) {
    if (isGateway) return sidecarOrGatewayHostnamePartErrors(hostname, true);
    return ['host must be of form namespace/dnsName'];
  }
  const namespace = hostname.slice(0, slash);
  const dnsName = hostname.slice(slash + 1);
  const errors: string[] = [];
  if (namespace === '' || dnsName === '') errors.push('config namespace and dnsName in host entry cannot be empty');
  if (!isGateway) {
    // A Sidecar namespace is *, ., or a DNS label, optionally ~-prefixed to exclude it.
    const ns = namespace.startsWith('~') ? namespace.slice(1) : namespace;
    if (ns !== '' && ns !== '*' && ns !== '.' && !isDNS1123Label(ns)) errors.push(`invalid namespace value ${goQuote(namespace)} in sidecar`);
  } else if (namespace !== '*' && namespace !== '.' && (namespace !== '~' || !gatewaySemantics)) {
    if (!isDNS1123Label(namespace)) errors.push(`invalid namespace value ${goQuote(namespace)} in gateway`);
  }
  errors.push(...sidecarOrGatewayHostnamePartErrors(dnsName, isGateway));
  return errors;
}

export function validateNamespaceSlashWildcardHostname(hostname: string, isGateway: boolean, gatewaySemantics: boolean): string | undefined {
  const errors = namespaceSlashWildcardHostnameErrors(hostname, isGateway, gatewaySemantics);
  return errors.length === 0 ? undefined : errors.join('; ');
}

// ---------------------------------------------------------------------------------------------
// IP addresses and prefixes: Go's net/netip (no leading zeros in IPv4 octets, IPv6 zones allowed
// in addresses but not in prefixes, prefix bits without sign or leading zeros)
// ---------------------------------------------------------------------------------------------

interface ParsedAddr {
  bits: 32 | 128;
  zoned: boolean;
}

/** netip's parseIPv4Fields: exactly four decimal octets, each 0..255 without leading zeros. */
function isIPv4Fields(s: string): boolean {
  let fields = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && value === 0) return false; // leading zero
      value = value * 10 + (c - 0x30);
      digits++;
      if (value > 255) return false;
    } else if (c === 0x2e) {
      if (i === 0 || i === s.length - 1 || s[i - 1] === '.') return false;
      if (fields === 3) return false;
      fields++;
      value = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  return fields === 3 && digits > 0;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** netip's parseIPv6: hex groups, one `::`, an optional trailing IPv4, an optional %zone. */
function parseIPv6(input: string): ParsedAddr | undefined {
  let s = input;
  let zoned = false;
  const percent = s.indexOf('%');
  if (percent >= 0) {
    if (percent === s.length - 1) return undefined; // empty zone
    s = s.slice(0, percent);
    zoned = true;
  }
  let ellipsis = -1;
  let bytes = 0;
  let pos = 0;
  if (s.startsWith('::')) {
    ellipsis = 0;
    pos = 2;
    if (pos === s.length) return { bits: 128, zoned };
  }
  while (bytes < 16) {
    let off = 0;
    let acc = 0;
    while (pos + off < s.length) {
      const h = hexValue(s.charCodeAt(pos + off));
      if (h < 0) break;
      acc = acc * 16 + h;
      if (off > 3 || acc > 0xffff) return undefined;
      off++;
    }
    if (off === 0) return undefined;
    if (s[pos + off] === '.') {
      // An embedded IPv4 address takes the last 4 bytes.
      if ((ellipsis < 0 && bytes !== 12) || bytes + 4 > 16) return undefined;
      if (!isIPv4Fields(s.slice(pos))) return undefined;
      bytes += 4;
      pos = s.length;
      break;
    }
    bytes += 2;
    pos += off;
    if (pos === s.length) break;
    if (s[pos] !== ':' || pos + 1 === s.length) return undefined;
    pos++;
    if (s[pos] === ':') {
      if (ellipsis >= 0) return undefined;
      ellipsis = bytes;
      pos++;
      if (pos === s.length) break;
    }
  }
  if (pos !== s.length) return undefined;
  if (bytes < 16 && ellipsis < 0) return undefined;
  if (bytes === 16 && ellipsis >= 0) return undefined; // `::` must stand for at least one group
  return { bits: 128, zoned };
}

/** netip.ParseAddr: the kind of address, or undefined when Go refuses it. */
function parseAddr(s: string): ParsedAddr | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '.') return isIPv4Fields(s) ? { bits: 32, zoned: false } : undefined;
    if (c === ':') return parseIPv6(s);
    if (c === '%') return undefined;
  }
  return undefined;
}

const PREFIX_BITS = /^(0|[1-9]\d*)$/;

/** netip.ParsePrefix succeeds. */
function isPrefix(s: string): boolean {
  const slash = s.lastIndexOf('/');
  if (slash < 0) return false;
  const addr = parseAddr(s.slice(0, slash));
  if (!addr || addr.zoned) return false;
  const bitsText = s.slice(slash + 1);
  if (!PREFIX_BITS.test(bitsText)) return false;
  return Number(bitsText) <= addr.bits;
}

/** netip.ParseAddr succeeds (IPv4, IPv6, IPv6 with a zone). */
export function isIP(addr: string): boolean {
  return parseAddr(addr) !== undefined;
}

/** netip.ParsePrefix succeeds ("10.0.0.0/8", "2001:db8::/32"; host bits may be set). */
export function isCIDR(addr: string): boolean {
  return isPrefix(addr);
}

export function validateIPAddress(addr: string): string | undefined {
  return isIP(addr) ? undefined : `${addr} is not a valid IP`;
}

/** ValidateIPSubnet: CIDR notation when there is exactly one `/`, else a plain address. */
export function validateIPSubnet(subnet: string): string | undefined {
  if (subnet.split('/').length === 2) return isCIDR(subnet) ? undefined : `${subnet} is not a valid CIDR block`;
  return validateIPAddress(subnet);
}

export const UNIX_ADDRESS_PREFIX = 'unix://';

/** ValidateUnixAddress: an absolute file path (Unix style whatever the OS), or an abstract `@name`. */
export function validateUnixAddress(addr: string): string | undefined {
  if (addr.length === 0) return 'unix address must not be empty';
  if (addr.startsWith('@')) return undefined;
  if (!addr.startsWith('/') || addr.endsWith('/')) return `${addr} is not an absolute path to a file`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// exportTo (pkg/config/visibility)
// ---------------------------------------------------------------------------------------------

const EXPORT_PRIVATE = '.';
const EXPORT_PUBLIC = '*';
const EXPORT_NONE = '~';

/** visibility.Instance.Validate */
function visibilityError(value: string): string | undefined {
  if (value === EXPORT_PRIVATE || value === EXPORT_PUBLIC) return undefined;
  if (value === EXPORT_NONE) return 'exportTo ~ (none) is not allowed for Istio configuration objects';
  if (!isDNS1123Label(value)) return 'only .,*, or a valid DNS 1123 label is allowed as exportTo entry';
  return undefined;
}

/** validateExportTo: namespace names, `.`, `*`, `~` (ServiceEntry/DR-with-selector rules). */
export function validateExportTo(namespace: string, exportTo: readonly string[], isServiceEntry: boolean, isDestinationRuleWithSelector: boolean): string[] {
  return exportToErrors(namespace, exportTo, isServiceEntry, isDestinationRuleWithSelector).map((e) => e.message);
}

/** validateExportTo, each error with the index of the entry at fault (undefined: the list as a whole). */
export function exportToErrors(
  namespace: string,
  exportTo: readonly string[],
  isServiceEntry: boolean,
  isDestinationRuleWithSelector: boolean,
): { index: number | undefined; message: string }[] {
  const errors: { index: number | undefined; message: string }[] = [];
  if (exportTo.length === 0) return errors;
  const seen = new Set<string>();
  exportTo.forEach((entry, index) => {
    // `.` is the object's own namespace, so `., ns` is a duplicate too.
    const key = entry === EXPORT_PRIVATE ? namespace : entry;
    if (seen.has(key)) {
      const message = key !== entry ? `duplicate entries in exportTo: . and current namespace ${namespace}` : `duplicate entries in exportTo for entry ${entry}`;
      errors.push({ index, message });
      return;
    }
    // A ServiceEntry may use `~`: visible to no one but the proxies of that service.
    if (isServiceEntry && entry === EXPORT_NONE) {
      seen.add(key);
      return;
    }
    const invalid = visibilityError(key);
    if (invalid) errors.push({ index, message: invalid });
    else seen.add(key);
  });
  if (isDestinationRuleWithSelector && seen.size > 0) {
    if (!seen.has(namespace)) {
      errors.push({ index: undefined, message: 'destination rule with workload selector cannot have exportTo beyond current namespace' });
    } else if (seen.size > 1) {
      errors.push({ index: undefined, message: 'destination rule with workload selector cannot have multiple entries in exportTo' });
    }
  }
  if (seen.has(EXPORT_PUBLIC) && exportTo.length > 1) {
    errors.push({ index: undefined, message: 'cannot have both public (*) and non-public exportTo values for a resource' });
  }
  if (seen.has(EXPORT_NONE) && exportTo.length > 1) {
    errors.push({ index: undefined, message: 'cannot export service entry to no one (~) and someone' });
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Workload selectors
// ---------------------------------------------------------------------------------------------

/**
 * A workload selector's labels, one at a time so each error points at its own key. True when one
 * is refused (Istio then gives the selector's warnings no more thought).
 */
export function reportSelectorLabelErrors(f: Findings, labelsPath: SpecPath, labels: Record<string, unknown>): boolean {
  let refused = false;
  for (const [key, value] of Object.entries(labels)) {
    for (const message of validateWorkloadSelector({ [key]: value }).errors) {
      f.error([...labelsPath, key], message);
      refused = true;
    }
  }
  return refused;
}

/**
 * validateWorkloadSelector / ValidateAlphaWorkloadSelector over the labels map: pass undefined when
 * the object has no selector, the (possibly empty) labels when it has one.
 */
export function validateWorkloadSelector(matchLabels: Record<string, unknown> | undefined): { errors: string[]; warnings: string[] } {
  const result = { errors: [] as string[], warnings: [] as string[] };
  if (matchLabels === undefined) return result;
  for (const [key, raw] of Object.entries(matchLabels)) {
    const value = typeof raw === 'string' ? raw : String(raw ?? '');
    const pair = goQuote(`${key}=${value}`);
    if (key === '') result.errors.push(`empty key is not supported in selector: ${pair}`);
    if (key.includes('*') || value.includes('*')) result.errors.push(`wildcard is not supported in selector: ${pair}`);
  }
  if (Object.keys(matchLabels).length === 0) result.warnings.push('workload selector specified without labels');
  return result;
}

// ---------------------------------------------------------------------------------------------
// HTTP header names and values
// ---------------------------------------------------------------------------------------------

// RFC 7230 token characters.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;
// Kept by Istio as a semi-arbitrary set for backwards compatibility.
const STRICT_HEADER_NAME = /^[-_A-Za-z0-9]+$/;
const PSEUDO_HEADERS = new Set([':method', ':scheme', ':authority', ':path', ':status']);
const JWT_CLAIM_HEADER = '@request.auth.claims';
// Control characters other than tab (protoc-gen-validate's header value rule).
// eslint-disable-next-line no-control-regex
const HEADER_VALUE_CHARS = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;

/** isInternalHeader: pseudo headers and Host. */
function isInternalHeader(name: string): boolean {
  return name.startsWith(':') || name.toLowerCase() === 'host';
}
function isAuthorityHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === ':authority' || lower === 'host';
}

/** jwt.ToRoutingClaim(name).Match: `@request.auth.claims.a.b` or `@request.auth.claims[a][b]`. */
export function isJwtClaimRoute(name: string): boolean {
  if (!name.toLowerCase().startsWith(JWT_CLAIM_HEADER)) return false;
  const rest = name.slice(JWT_CLAIM_HEADER.length);
  if (rest.startsWith('.') && rest.length > 1) return true;
  return rest.startsWith('[') && rest.endsWith(']') && rest.length > 2;
}

export function validateStrictHTTPHeaderName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (!STRICT_HEADER_NAME.test(name)) return `header name ${name} is not a valid header name`;
  return undefined;
}

/** ValidateHTTPHeaderOperationName: removing request headers, changing response headers. */
export function validateHTTPHeaderOperationName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (name.toLowerCase() === 'host') return `invalid header ${goQuote(name)}: cannot set Host header`;
  if (isInternalHeader(name)) return `invalid header ${goQuote(name)}: header cannot have ":" prefix`;
  return undefined;
}

/** ValidateHTTPHeaderWithAuthorityOperationName: adding/setting request headers (authority is checked later). */
export function validateHTTPHeaderWithAuthorityOperationName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (isInternalHeader(name) && !isAuthorityHeader(name)) return `invalid header ${goQuote(name)}: header cannot have ":" prefix`;
  return undefined;
}

export function validateHTTPHeaderNameOrJwtClaimRoute(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (isJwtClaimRoute(name) || PSEUDO_HEADERS.has(name)) return undefined;
  if (!HEADER_NAME.test(name)) return `header name ${name} is not a valid header name`;
  return undefined;
}

export function validateCORSHTTPHeaderName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (name === '*') return undefined;
  if (!HEADER_NAME.test(name)) return `header name ${name} is not a valid header name`;
  return undefined;
}

/** Envoy's header_parser states, as header_value_validator.go walks them. */
const enum HeaderState {
  Literal,
  VariableName,
  ExpectArray,
  ExpectString,
  String,
  ExpectArrayDelimiterOrEnd,
  ExpectArgsEnd,
  ExpectVariableEnd,
}

/** validateHeaderValue: Envoy's %VARIABLE% / %VAR(["arg"])% syntax, `%%` for a literal `%`. */
function headerValueSyntaxError(value: string): string | undefined {
  let state = HeaderState.Literal;
  for (let pos = 0; pos < value.length; pos++) {
    const ch = value[pos];
    const hasNext = pos + 1 < value.length;
    switch (state) {
      case HeaderState.Literal:
        if (ch !== '%') break;
        if (!hasNext) return 'invalid header configuration. Un-escaped %';
        if (value[pos + 1] === '%') pos++; // escaped %
        else state = HeaderState.VariableName;
        break;
      case HeaderState.VariableName:
        if (ch === '%') state = HeaderState.Literal;
        else if (ch === '(') state = HeaderState.ExpectArray;
        break;
      case HeaderState.ExpectArray:
        if (ch === '[') state = HeaderState.ExpectString;
        else if (ch !== ' ') state = HeaderState.String;
        break;
      case HeaderState.ExpectArrayDelimiterOrEnd:
        if (ch === ',') state = HeaderState.ExpectString;
        else if (ch === ']') state = HeaderState.ExpectArgsEnd;
        else if (ch !== ' ') return "invalid header configuration. Expecting ',', ']', or whitespace";
        break;
      case HeaderState.ExpectString:
        if (ch === '"') state = HeaderState.String;
        else if (ch !== ' ') return `invalid header configuration. Expecting '"'`;
        break;
      case HeaderState.String:
        if (ch === '\\') {
          if (!hasNext) return 'invalid header configuration. Un-terminated backslash in JSON string';
          pos++; // skip the escaped character
        } else if (ch === ')') state = HeaderState.ExpectVariableEnd;
        else if (ch === '"') state = HeaderState.ExpectArrayDelimiterOrEnd;
        break;
      case HeaderState.ExpectArgsEnd:
        if (ch === ')') state = HeaderState.ExpectVariableEnd;
        else if (ch !== ' ') return "invalid header configuration. Expecting ')' or whitespace after '{}', but found '{}'";
        break;
      case HeaderState.ExpectVariableEnd:
        if (ch === '%') state = HeaderState.Literal;
        else if (ch !== ' ') return "invalid header configuration. Expecting '%' or whitespace after";
        break;
    }
  }
  if (state !== HeaderState.Literal) return `invalid header configuration. Un-terminated variable expression '${value}'`;
  return undefined;
}

/** ValidateHTTPHeaderValue: no control characters, Envoy's %VAR% syntax well formed. */
export function validateHTTPHeaderValue(value: string): string | undefined {
  if (!HEADER_VALUE_CHARS.test(value)) return `header value configuration ${value} is invalid`;
  const syntax = headerValueSyntaxError(value);
  return syntax ? `header value configuration: ${syntax}` : undefined;
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

export function validatePercent(value: number): string | undefined {
  return value < 0 || value > 100 ? `percentage ${value} is not in range 0..100` : undefined;
}

export function validateWeight(weight: number): string | undefined {
  return weight < 0 ? `weight ${weight} < 0` : undefined;
}

// ---------------------------------------------------------------------------------------------
// Object metadata (validateMetadata, applied by Istio to every kind)
// ---------------------------------------------------------------------------------------------

const ALWAYS_REJECT_ANNOTATION = 'internal.istio.io/webhook-always-reject';
const INTERNAL_PARENT_NAMESPACE_ANNOTATION = 'internal.istio.io/parent-namespace';
const INTERNAL_PARENT_NAMES_ANNOTATION = 'internal.istio.io/parents';

/**
 * validateMetadata: the annotations Istio's webhook refuses on any object, as error messages
 * (they concern metadata, not spec: report them at the spec root). The dry-run annotation check
 * is left out on purpose. Names are checked per kind (Gateway: a DNS-1123 label).
 */
export function validateMetadata(ctx: WebhookContext): string[] {
  const errors: string[] = [];
  const has = (key: string): boolean => Object.hasOwn(ctx.annotations ?? {}, key);
  if (has(ALWAYS_REJECT_ANNOTATION)) errors.push(`${goQuote(ALWAYS_REJECT_ANNOTATION)} annotation found, rejecting`);
  // These internal annotations escalate privileges: users may not set them.
  for (const internal of [INTERNAL_PARENT_NAMESPACE_ANNOTATION, INTERNAL_PARENT_NAMES_ANNOTATION]) {
    if (has(internal)) errors.push(`${goQuote(internal)} annotation found, this may not be set by users`);
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Reading specs: the CRD schema has already checked types, and every field is optional, so a
// missing or null field reads as Go's zero value.
// ---------------------------------------------------------------------------------------------

/** A field present with a value (YAML `null` reads as Go's unset). */
export function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}
export function asString(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
export function asNumber(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}
export function asBoolean(value: unknown): boolean {
  return value === true;
}
const NONE: readonly unknown[] = Object.freeze([]);

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : NONE;
}
/** The object, or undefined when the field is absent or null (Go's nil message). */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
/** A map of strings (labels), or undefined when absent. */
export function asStringMap(value: unknown): Record<string, string> | undefined {
  const record = asRecord(value);
  if (!record) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) out[k] = asString(v);
  return out;
}

/** Go's %v of a Port/SidecarPort message, as Istio prints it in some messages. */
export function formatPortMessage(port: Record<string, unknown>): string {
  const parts: string[] = [];
  if (asNumber(port.number) !== 0) parts.push(`number:${asNumber(port.number)}`);
  if (asString(port.protocol) !== '') parts.push(`protocol:${goQuote(asString(port.protocol))}`);
  if (asString(port.name) !== '') parts.push(`name:${goQuote(asString(port.name))}`);
  if (asNumber(port.targetPort) !== 0) parts.push(`target_port:${asNumber(port.targetPort)}`);
  return parts.join(' ');
}
