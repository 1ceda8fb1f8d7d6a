import { describe, expect, it } from 'vitest';
import {
  dns1123LabelsVerdict as slowDNS1123Labels,
  durationMs,
  durationNs,
  exportToErrors,
  formatGoDuration,
  isCIDR,
  isDNS1123Label,
  isIP,
  isJwtClaimRoute,
  isWildcardDNS1123Label,
  namespaceSlashWildcardHostnameErrors,
  parseProtocol,
  plainDNS1123Labels,
  plainWildcardDomain,
  validateCORSHTTPHeaderName,
  validateDNS1123Labels,
  validateDuration,
  validateDurationRange,
  validateExportTo,
  validateFQDN,
  validateHTTPHeaderNameOrJwtClaimRoute,
  wildcardDomainVerdict as slowWildcardDomain,
  validateHTTPHeaderOperationName,
  validateHTTPHeaderValue,
  validateHTTPHeaderWithAuthorityOperationName,
  validateIPAddress,
  validateIPSubnet,
  validateLabel,
  validateMetadata,
  validateNamespaceSlashWildcardHostname,
  validatePartialWildcard,
  validatePercent,
  validatePort,
  validatePortName,
  validateProtocol,
  validateStrictHTTPHeaderName,
  validateUnixAddress,
  validateWeight,
  validateWildcardDomain,
  validateWildcardDomainForVirtualServiceBoundToGateway,
  validateWorkloadSelector,
} from '../../../../src/config/webhook/common.js';

// Tables from Istio's pkg/config/validation/agent/validation_test.go and validation_test.go, and
// for durations and IP addresses from Go's own time and net/netip tests, whose parsing Istio uses.

const HOUR_NS = 3_600_000_000_000n;
const MINUTE_NS = 60_000_000_000n;
const SECOND_NS = 1_000_000_000n;
const MS_NS = 1_000_000n;

describe('durationNs: Go time.ParseDuration', () => {
  it.each<[string, bigint]>([
    ['0', 0n],
    ['5s', 5n * SECOND_NS],
    ['30s', 30n * SECOND_NS],
    ['1478s', 1478n * SECOND_NS],
    ['-5s', -5n * SECOND_NS],
    ['+5s', 5n * SECOND_NS],
    ['-0', 0n],
    ['+0', 0n],
    ['5.0s', 5n * SECOND_NS],
    ['5.6s', 5n * SECOND_NS + 600n * MS_NS],
    ['5.s', 5n * SECOND_NS],
    ['.5s', 500n * MS_NS],
    ['1.0s', SECOND_NS],
    ['1.00s', SECOND_NS],
    ['1.004s', SECOND_NS + 4n * MS_NS],
    ['1.0040s', SECOND_NS + 4n * MS_NS],
    ['100.00100s', 100n * SECOND_NS + MS_NS],
    ['10ns', 10n],
    ['11us', 11_000n],
    ['12µs', 12_000n],
    ['12μs', 12_000n],
    ['13ms', 13n * MS_NS],
    ['14s', 14n * SECOND_NS],
    ['15m', 15n * MINUTE_NS],
    ['16h', 16n * HOUR_NS],
    ['3h30m', 3n * HOUR_NS + 30n * MINUTE_NS],
    ['10.5s4m', 4n * MINUTE_NS + 10n * SECOND_NS + 500n * MS_NS],
    ['-2m3.4s', -(2n * MINUTE_NS + 3n * SECOND_NS + 400n * MS_NS)],
    ['1h2m3s4ms5us6ns', HOUR_NS + 2n * MINUTE_NS + 3n * SECOND_NS + 4n * MS_NS + 5_000n + 6n],
    ['39h9m14.425s', 39n * HOUR_NS + 9n * MINUTE_NS + 14n * SECOND_NS + 425n * MS_NS],
    ['52763797000ns', 52_763_797_000n],
    ['1.000000001s', SECOND_NS + 1n],
    ['1.0000000019s', SECOND_NS + 1n],
  ])('%s', (text, ns) => {
    expect(durationNs(text)).toBe(ns);
  });

  it.each(['', '3', '-', 's', '.', '-.', '.s', '+.s', '1d', '1.5', '1 s', ' 1s', '1s ', '1S', '1s1', 'h1', '--1s', '1e3ms', 'PT1S'])('%j is not a duration', (text) => {
    expect(durationNs(text)).toBeUndefined();
  });

  it('is undefined for what is not a string', () => {
    expect(durationNs(1000)).toBeUndefined();
    expect(durationNs(undefined)).toBeUndefined();
    expect(durationMs(null)).toBeUndefined();
  });

  it('durationMs is the same in milliseconds', () => {
    expect(durationMs('1.5s')).toBe(1500);
    expect(durationMs('100ms')).toBe(100);
    expect(durationMs('1h30m')).toBe(5_400_000);
    expect(durationMs('250us')).toBe(0.25);
    expect(durationMs('0')).toBe(0);
  });
});

describe('formatGoDuration: Go time.Duration.String', () => {
  it.each<[bigint, string]>([
    [0n, '0s'],
    [1n, '1ns'],
    [1_100n, '1.1µs'],
    [2_200n * 1_000n, '2.2ms'],
    [3_300n * MS_NS, '3.3s'],
    [4n * MINUTE_NS + 5n * SECOND_NS, '4m5s'],
    [4n * MINUTE_NS + 5001n * MS_NS, '4m5.001s'],
    [5n * HOUR_NS + 6n * MINUTE_NS + 7001n * MS_NS, '5h6m7.001s'],
    [8n * MINUTE_NS + 1n, '8m0.000000001s'],
    [HOUR_NS, '1h0m0s'],
    [MS_NS, '1ms'],
    [-1n, '-1ns'],
    [-HOUR_NS - 500n * MS_NS, '-1h0m0.5s'],
  ])('%d ns is %s', (ns, text) => {
    expect(formatGoDuration(ns)).toBe(text);
  });
});

describe('validateDuration (agent TestValidateDuration)', () => {
  it.each(['1s', '1ms', '1.5s', '1h', '1m30s', '100ms', '1.001s'])('%s is valid', (text) => {
    expect(validateDuration(text)).toBeUndefined();
  });
  it.each<[string, string]>([
    ['0.999999999s', 'only durations to ms precision are supported'], // {Seconds: 1, Nanos: -1}
    ['-11.000000001s', 'duration must be greater than 1ms'], // {Seconds: -11, Nanos: -1}
    ['1ns', 'duration must be greater than 1ms'], // {Nanos: 1}
    ['1.000000001s', 'only durations to ms precision are supported'], // {Seconds: 1, Nanos: 1}
    ['0s', 'duration must be greater than 1ms'],
    ['0.5ms', 'duration must be greater than 1ms'],
    ['1.5ms', 'only durations to ms precision are supported'],
    ['1ms1ns', 'only durations to ms precision are supported'],
    ['soon', 'invalid duration "soon"'],
  ])('%s: %s', (text, message) => {
    expect(validateDuration(text)).toBe(message);
  });
});

describe('validateDurationRange (agent TestValidateConnectTimeout: 1ms..1h)', () => {
  it.each<[number, boolean]>([
    [1000, true],
    [31_000, true],
    [999_999_999_000, false],
    [1, true],
    [3_600_000, true],
    [3_600_001, false],
    [0.5, false],
  ])('%d ms in range: %s', (ms, valid) => {
    expect(validateDurationRange(ms, 1, 3_600_000) === undefined).toBe(valid);
  });
  it('prints durations as Go does', () => {
    expect(validateDurationRange(3_600_001, 1, 3_600_000)).toBe('time 1h0m0.001s must be >1ms and <1h0m0s');
  });
});

describe('validatePort (agent TestValidatePort)', () => {
  it.each<[number, boolean]>([
    [0, false],
    [65536, false],
    [-1, false],
    [100, true],
    [1000, true],
    [65535, true],
    [1, true],
    [80.5, false],
  ])('%d valid: %s', (port, valid) => {
    expect(validatePort(port) === undefined).toBe(valid);
  });
  it('says the range', () => {
    expect(validatePort(0)).toBe('port number 0 must be in the range 1..65535');
  });
});

describe('validatePortName (TestValidatePortName)', () => {
  it.each<[string, boolean]>([
    ['', false],
    ['simple', true],
    ['full', true],
    ['toolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolong', false],
    ['HTTP', true],
    ['http-80', true],
    ['8080', true],
    ['-http', false],
    ['http-', false],
    ['http_80', false],
    ['http.80', false],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
  ])('%j valid: %s', (name, valid) => {
    expect(validatePortName(name) === undefined).toBe(valid);
  });
  it('says the name', () => {
    expect(validatePortName('a_b')).toBe('invalid port name: a_b');
  });
});

describe('validateProtocol / parseProtocol (pkg/config/protocol)', () => {
  it.each([
    ['', 'UnsupportedProtocol'],
    ['http', 'HTTP'],
    ['HTTP', 'HTTP'],
    ['Http2', 'HTTP2'],
    ['https', 'HTTPS'],
    ['grpc', 'GRPC'],
    ['GRPC-WEB', 'GRPC-Web'],
    ['http_proxy', 'HTTP_PROXY'],
    ['tcp', 'TCP'],
    ['udp', 'UDP'],
    ['tls', 'TLS'],
    ['mongo', 'Mongo'],
    ['REDIS', 'Redis'],
    ['mysql', 'MySQL'],
    ['DoubleHBONE', 'UnsupportedProtocol'],
    ['hbone', 'UnsupportedProtocol'],
    ['kafka', 'UnsupportedProtocol'],
  ])('%j parses as %s', (text, protocol) => {
    expect(parseProtocol(text)).toBe(protocol);
  });

  it.each(['', 'http', 'TCP', 'grpc-web', 'Redis'])('%j is a protocol (empty: sniffing)', (text) => {
    expect(validateProtocol(text)).toBeUndefined();
  });
  it.each(['http1', 'kafka', 'h2c', 'DoubleHBONE'])('%j is not', (text) => {
    expect(validateProtocol(text)).toBe(`unsupported protocol: ${text}`);
  });
});

describe('labels: IsDNS1123Label, IsWildcardDNS1123Label', () => {
  it.each<[string, boolean, boolean]>([
    ['a', true, true],
    ['A1', true, true],
    ['a-b', true, true],
    ['-a', false, false],
    ['a-', false, false],
    ['a_b', false, false],
    ['', false, false],
    ['*', false, true],
    ['*a', false, true],
    ['*-a', false, true],
    ['**', false, false],
    ['*-', false, false],
    ['a*', false, false],
    ['a'.repeat(63), true, true],
    ['a'.repeat(64), false, false],
  ])('%j: label %s, wildcard label %s', (value, label, wildcard) => {
    expect(isDNS1123Label(value)).toBe(label);
    expect(isWildcardDNS1123Label(value)).toBe(wildcard);
  });
});

describe('validateFQDN (agent TestValidateFQDN)', () => {
  it.each<[string, string, boolean]>([
    ['long FQDN', 'x'.repeat(256), false],
    ['empty FQDN', '', false],
    ['standard FQDN', 'istio.io', true],
    ['unambiguous FQDN', 'istio.io.', true],
    ['standard kubernetes FQDN', 'istio-pilot.istio-system.svc.cluster.local', true],
    ['unambiguous kubernetes FQDN', 'istio-pilot.istio-system.svc.cluster.local.', true],
    ['single label', 'localhost', true],
    ['IP address', '1.2.3.4', false],
    ['numeric top-level domain', 'foo.123', false],
    ['signed numeric top-level domain (Atoi takes the sign)', 'foo.+1', false],
    ['numeric top-level domain beyond int64 is a label (Go quirk)', 'foo.99999999999999999999', true],
    ['empty label', 'a..b', false],
    ['leading dot', '.a', false],
    ['leading dash', '-a.com', false],
    ['trailing dash', 'a-.com', false],
    ['punycode', 'xn--bcher-kva.example', true],
    ['63-character label', `${'a'.repeat(63)}.com`, true],
    ['64-character label', `${'a'.repeat(64)}.com`, false],
    ['wildcard', '*.a.com', false],
    ['255 characters', `${'a.'.repeat(127)}a`, true],
  ])('%s', (_name, fqdn, valid) => {
    expect(validateFQDN(fqdn) === undefined).toBe(valid);
  });

  it.each<[string, string]>([
    ['', 'empty domain name not allowed'],
    ['x'.repeat(256), `domain name "${'x'.repeat(256)}" too long (max 255)`],
    ['foo.123', 'domain name "foo.123" invalid (top level domain "123" cannot be all-numeric)'],
    ['a..b', 'domain name "a..b" invalid (label "" invalid)'],
  ])('message for %j', (fqdn, message) => {
    expect(validateFQDN(fqdn)).toBe(message);
  });

  it('validateDNS1123Labels alone skips the length checks', () => {
    expect(validateDNS1123Labels('')).toBeUndefined();
    expect(validateDNS1123Labels('istio.io.')).toBeUndefined();
    expect(validateDNS1123Labels('a.b_c.d')).toBe('domain name "a.b_c.d" invalid (label "b_c" invalid)');
  });
});

describe('validateWildcardDomain (agent TestValidateWildcardDomain)', () => {
  it.each<[string, string, string]>([
    ['empty', '', 'empty'],
    ['too long', 'x'.repeat(256), 'too long'],
    ['happy', 'x'.repeat(63), ''],
    ['wildcard', '*', ''],
    ['wildcard multi-segment', '*.bar.com', ''],
    ['wildcard single segment', '*foo', ''],
    ['wildcard prefix', '*foo.bar.com', ''],
    ['wildcard prefix dash', '*-foo.bar.com', ''],
    ['bad wildcard', 'foo.*.com', 'invalid'],
    ['bad wildcard', 'foo*.bar.com', 'invalid'],
    ['IP address', '1.1.1.1', 'invalid'],
    ['double star', '**.com', 'invalid'],
    ['star then dash only', '*-.com', 'invalid'],
    ['wildcard last', 'foo.*', 'invalid'],
    ['wildcard with trailing dot (the rest may be empty)', '*.', ''],
  ])('%s: %j', (_name, domain, out) => {
    const err = validateWildcardDomain(domain);
    if (out === '') expect(err).toBeUndefined();
    else expect(err).toContain(out);
  });

  it('names the first label, or the rest of the name, as Istio does', () => {
    expect(validateWildcardDomain('foo*.bar.com')).toBe('domain name "foo*.bar.com" invalid (label "foo*" invalid)');
    expect(validateWildcardDomain('foo.*.com')).toBe('domain name "*.com" invalid (label "*" invalid)');
  });
});

describe('validateWildcardDomainForVirtualServiceBoundToGateway (agent tests)', () => {
  it.each<[string, string, boolean, string]>([
    ['empty', '', false, 'empty'],
    ['too long', 'x'.repeat(256), false, 'too long'],
    ['happy', 'x'.repeat(63), false, ''],
    ['wildcard', '*', false, ''],
    ['wildcard multi-segment', '*.bar.com', false, ''],
    ['wildcard single segment', '*foo', false, ''],
    ['wildcard prefix', '*foo.bar.com', false, ''],
    ['wildcard prefix dash', '*-foo.bar.com', false, ''],
    ['bad wildcard', 'foo.*.com', false, 'invalid'],
    ['bad wildcard', 'foo*.bar.com', false, 'invalid'],
    ['IP address', '1.1.1.1', false, 'invalid'],
    ['SNI domain', 'outbound_.80_._.e2e.foobar.mesh', true, ''],
    ['happy', 'outbound.com', true, ''],
    ['invalid SNI domain', 'neverbound_.80_._.e2e.foobar.mesh', true, 'invalid'],
    ['invalid SNI domain', 'outbound_.thisIsNotAPort_._.e2e.foobar.mesh', true, 'invalid'],
    ['invalid SNI domain', 'outbound_.80_._', true, 'invalid'],
    ['SNI form outside an SNI match', 'outbound_.80_._.e2e.foobar.mesh', false, 'invalid'],
    ['SNI host without letters', 'outbound_.80_._.123', true, 'invalid'],
    ['SNI port with a digit anywhere', 'outbound_.v1_._.e2e.mesh', true, ''],
  ])('%s: %j', (_name, domain, sni, out) => {
    const err = validateWildcardDomainForVirtualServiceBoundToGateway(sni, domain);
    if (out === '') expect(err).toBeUndefined();
    else expect(err).toContain(out);
  });

  it.each<[string, string]>([
    ['outbound_.80', "domain name outbound_.80 invalid, should follow 'outbound_.<PORT>_._.<HOSTNAME>' format"],
    ['outbound_.80_._', 'domain name "outbound_.80_._" invalid (label "" invalid). should follow outbound_.<PORT>_._.<HOSTNAME> format'],
    [
      'outbound_.thisIsNotAPort_._.e2e.foobar.mesh',
      'domain name "outbound_.thisIsNotAPort_._.e2e.foobar.mesh" invalid (label "thisIsNotAPort" invalid). should follow outbound_.<PORT>_._.<HOSTNAME> format',
    ],
    ['outbound_.80_._.123', 'domain name "outbound_.80_._.123" invalid (label "123" invalid). should follow outbound_.<PORT>_._.<HOSTNAME> format'],
  ])('message for %j (TestParseAutoGeneratedSNIDomain)', (domain, message) => {
    expect(validateWildcardDomainForVirtualServiceBoundToGateway(true, domain)).toBe(message);
  });
});

describe('validatePartialWildcard', () => {
  it.each<[string, boolean]>([
    ['*', true],
    ['*.a.com', true],
    ['a.com', true],
    ['*.', true],
    ['*a.com', false],
    ['a.*.com', false],
    ['a*', false],
    ['**', false],
  ])('%j valid: %s', (host, valid) => {
    expect(validatePartialWildcard(host) === undefined).toBe(valid);
  });
  it('quotes the host', () => {
    expect(validatePartialWildcard('*bar.com')).toBe('partial wildcard "*bar.com" not allowed');
  });
});

describe('namespaceSlashWildcardHostnameErrors', () => {
  it.each<[string, boolean, boolean, string[]]>([
    // Sidecar egress hosts
    ['*/*', false, false, []],
    ['./*', false, false, []],
    ['ns1/*', false, false, []],
    ['ns1/a.com', false, false, []],
    ['~/*', false, false, []],
    ['~ns1/*', false, false, []],
    ['*/*.a.com', false, false, []],
    ['a.com', false, false, ['host must be of form namespace/dnsName']],
    ['/a.com', false, false, ['config namespace and dnsName in host entry cannot be empty']],
    ['~Bad_NS/*', false, false, ['invalid namespace value "~Bad_NS" in sidecar']],
    ['ns1/foo', false, false, ['short names (non FQDN) are not allowed']],
    ['ns1/*foo.com', false, false, ['partial wildcard "*foo.com" not allowed']],
    ['ns1/1.2.3.4', false, false, ['domain name "2.3.4" invalid (top level domain "4" cannot be all-numeric)']],
    // Gateway server hosts
    ['a.com', true, false, []],
    ['*', true, false, []],
    ['1.2.3.4', true, false, []],
    ['ns1/1.2.3.4', true, false, []],
    ['./a.com', true, false, []],
    ['*/a.com', true, false, []],
    ['~/a.com', true, false, ['invalid namespace value "~" in gateway']],
    ['~/a.com', true, true, []],
    ['~ns/a.com', true, false, ['invalid namespace value "~ns" in gateway']],
    ['foo', true, false, ['short names (non FQDN) are not allowed']],
    ['foo.*.com', true, false, ['domain name "*.com" invalid (label "*" invalid)', 'partial wildcard "foo.*.com" not allowed']],
  ])('%j (gateway %s, gateway semantics %s)', (host, isGateway, semantics, errors) => {
    expect(namespaceSlashWildcardHostnameErrors(host, isGateway, semantics)).toEqual(errors);
  });

  it('validateNamespaceSlashWildcardHostname joins them', () => {
    expect(validateNamespaceSlashWildcardHostname('ns1/foo.com', false, false)).toBeUndefined();
    expect(validateNamespaceSlashWildcardHostname('foo.*.com', true, false)).toBe(
      'domain name "*.com" invalid (label "*" invalid); partial wildcard "foo.*.com" not allowed',
    );
  });
});

describe('isIP / validateIPAddress: Go netip.ParseAddr (agent TestValidationIPAddress)', () => {
  it.each([
    '1.1.1.1',
    '2001:1::1',
    '0.0.0.0',
    '255.255.255.255',
    '192.168.140.255',
    '::',
    '::1',
    '1::',
    'fe80::1cc0:3e8c:119f:c2e1%ens18',
    '::ffff:c000:1234',
    '2001:db8::1',
    '::ffff:192.168.140.255',
    '::ffff:192.168.140.255%eth1',
    '::1.2.3.4',
    'fd7a:115c:a1e0:ab12:4843:cd96:626b:430b',
    'FD9E:1A04:F01D::1',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:1.2.3.4',
    '1:2:3:4:5:6:7::',
    '::1:2:3:4:5:6:7',
    '0:0:0:0:0:0:0:0',
    'fe80::1%eth0/zone',
  ])('%j is an IP', (addr) => {
    expect(isIP(addr)).toBe(true);
    expect(validateIPAddress(addr)).toBeUndefined();
  });

  it.each([
    '1.1.A.1',
    '2001:1:G::1',
    '',
    'bad',
    '1234',
    '1a.2.3.4',
    '256.2.3.4',
    '1.2.3.4.5',
    '1.2.3',
    '1.2.3.',
    '.1.2.3',
    '1..2.3',
    '010.1.2.3',
    '1.2.3.04',
    '0x1.2.3.4',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1.2.3.4%eth0',
    '%eth0',
    'fe80::1cc0:3e8c:119f:c2e1%',
    '::ffff:192.168.140.bad',
    '::ffff:1.2.03.4',
    'fe80::1::1',
    'fe80:1?:1',
    'fe80:',
    'fe80::1:',
    ':1',
    ':',
    ':::1',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1:2:3:4::5:6:7:8',
    '12345::',
    'fffff::',
    '00000::1',
    '1:2:3:4:5:6:7:1.2.3.4',
    '::1.2.3.4.5',
    '1.2.3.4:80',
    '[::1]',
    '1.2.3.4/32',
  ])('%j is not an IP', (addr) => {
    expect(isIP(addr)).toBe(false);
    expect(validateIPAddress(addr)).toBe(`${addr} is not a valid IP`);
  });
});

describe('isCIDR / validateIPSubnet: Go netip.ParsePrefix (agent TestValidationIPSubnet)', () => {
  it.each([
    ['valid ipv4 subnet', '1.1.1.1/24', true],
    ['invalid ipv4 subnet', '1.1.1.1/48', false],
    ['valid ipv6 subnet', '2001:1::1/64', true],
    ['invalid ipv6 subnet', '2001:1::1/132', false],
    ['plain IPv4 is a subnet too', '1.1.1.1', true],
    ['plain IPv6 is a subnet too', '2001:1::1', true],
    ['zero bits', '0.0.0.0/0', true],
    ['IPv6 zero bits', '::/0', true],
    ['host bits may be set', '10.1.2.3/8', true],
    ['32 bits', '1.2.3.4/32', true],
    ['33 bits', '1.2.3.4/33', false],
    ['mapped IPv6 prefix', '::ffff:1.2.3.4/120', true],
    ['128 bits', '2001:db8::1/128', true],
    ['129 bits', '2001:db8::/129', false],
    ['negative bits', '1.2.3.4/-1', false],
    ['signed bits', '1.2.3.4/+8', false],
    ['leading zero bits', '1.2.3.4/08', false],
    ['no bits', '1.2.3.4/', false],
    ['no address', '/24', false],
    ['zone in a prefix', 'fe80::1%eth0/64', false],
    ['two slashes', '1.2.3.4/24/8', false],
    ['space in bits', '1.2.3.4/ 8', false],
    ['leading zero octet', '10.0.0.01/8', false],
  ])('%s: %j', (_name, subnet, valid) => {
    expect(validateIPSubnet(subnet) === undefined).toBe(valid);
  });

  it('says what it expected', () => {
    expect(validateIPSubnet('1.1.1.1/48')).toBe('1.1.1.1/48 is not a valid CIDR block');
    expect(validateIPSubnet('1.2.3.4/24/8')).toBe('1.2.3.4/24/8 is not a valid IP');
  });

  it('isCIDR needs the slash', () => {
    expect(isCIDR('10.0.0.0/8')).toBe(true);
    expect(isCIDR('10.0.0.0')).toBe(false);
    expect(isCIDR('2001:db8::/32')).toBe(true);
  });
});

describe('validateUnixAddress', () => {
  it.each<[string, string | undefined]>([
    ['/var/run/app.sock', undefined],
    ['/a', undefined],
    ['@abstract', undefined],
    ['@', undefined],
    ['', 'unix address must not be empty'],
    ['relative.sock', 'relative.sock is not an absolute path to a file'],
    ['/var/run/', '/var/run/ is not an absolute path to a file'],
    ['/', '/ is not an absolute path to a file'],
  ])('%j', (addr, message) => {
    expect(validateUnixAddress(addr)).toBe(message);
  });
});

describe('validateExportTo (Test_validateExportTo)', () => {
  it.each<[string, string, string[], boolean, boolean, boolean]>([
    ['empty exportTo is okay', 'ns5', [], false, false, false],
    ['* is allowed', 'ns5', ['*'], false, false, false],
    ['. and ns1 are allowed', 'ns5', ['.', 'ns1'], false, false, false],
    ['bunch of namespaces in exportTo is okay', 'ns5', ['ns1', 'ns2', 'ns5'], false, false, false],
    ['~ is allowed for service entry configs', 'ns5', ['~'], true, false, false],
    ['~ not allowed for non service entry configs', 'ns5', ['~', 'ns1'], false, false, true],
    ['. and * together are not allowed', 'ns5', ['.', '*'], false, false, true],
    ['* and ns1 together are not allowed', 'ns5', ['*', 'ns1'], false, false, true],
    ['. and same namespace in exportTo is not okay', 'ns5', ['.', 'ns5'], false, false, true],
    ['duplicate namespaces in exportTo is not okay', 'ns5', ['ns1', 'ns2', 'ns1'], false, false, true],
    ['duplicate none in service entry exportTo is not okay', 'ns5', ['~', '~', 'ns1'], true, false, true],
    ['invalid namespace names are not okay', 'ns5', ['ns1_'], false, false, true],
    ['none and other namespaces cannot be combined in service entry exportTo', 'ns5', ['~', 'ns1'], true, false, true],
    ['destination rule with workloadselector cannot have exportTo (*)', 'ns5', ['*'], false, true, true],
    ['destination rule with workloadselector can have only exportTo (.)', 'ns5', ['.'], false, true, false],
    ['destination rule with workloadselector cannot have another ns in exportTo (.)', 'ns5', ['somens'], false, true, true],
    ['destination rule with workloadselector cannot have another ns in addition to own ns in exportTo (.)', 'ns5', ['.', 'somens'], false, true, true],
    ['destination rule with workloadselector may name its own namespace', 'ns5', ['ns5'], false, true, false],
    ['~ alone outside a service entry', 'ns5', ['~'], false, false, true],
  ])('%s', (_name, namespace, exportTo, isServiceEntry, isDRWithSelector, wantErr) => {
    expect(validateExportTo(namespace, exportTo, isServiceEntry, isDRWithSelector).length > 0).toBe(wantErr);
  });

  it.each<[string[], boolean, boolean, { index: number | undefined; message: string }[]]>([
    [['ns5', '.'], false, false, [{ index: 1, message: 'duplicate entries in exportTo: . and current namespace ns5' }]],
    [['.', 'ns5'], false, false, [{ index: 1, message: 'duplicate entries in exportTo for entry ns5' }]],
    [['ns1', 'ns1'], false, false, [{ index: 1, message: 'duplicate entries in exportTo for entry ns1' }]],
    [['ns1_'], false, false, [{ index: 0, message: 'only .,*, or a valid DNS 1123 label is allowed as exportTo entry' }]],
    [['ns1', '~'], false, false, [{ index: 1, message: 'exportTo ~ (none) is not allowed for Istio configuration objects' }]],
    [['*', 'ns1'], false, false, [{ index: undefined, message: 'cannot have both public (*) and non-public exportTo values for a resource' }]],
    [['~', 'ns1'], true, false, [{ index: undefined, message: 'cannot export service entry to no one (~) and someone' }]],
    [['somens'], false, true, [{ index: undefined, message: 'destination rule with workload selector cannot have exportTo beyond current namespace' }]],
    [['.', 'somens'], false, true, [{ index: undefined, message: 'destination rule with workload selector cannot have multiple entries in exportTo' }]],
  ])('%j: each error with the entry at fault', (exportTo, isServiceEntry, isDRWithSelector, errors) => {
    expect(exportToErrors('ns5', exportTo, isServiceEntry, isDRWithSelector)).toEqual(errors);
  });
});

describe('validateWorkloadSelector', () => {
  it('no selector: nothing', () => {
    expect(validateWorkloadSelector(undefined)).toEqual({ errors: [], warnings: [] });
  });
  it('a selector without labels: a warning', () => {
    expect(validateWorkloadSelector({})).toEqual({ errors: [], warnings: ['workload selector specified without labels'] });
  });
  it.each<[Record<string, unknown>, string[]]>([
    [{ app: 'web' }, []],
    [{ '': 'web' }, ['empty key is not supported in selector: "=web"']],
    [{ 'app*': 'web' }, ['wildcard is not supported in selector: "app*=web"']],
    [{ app: '*' }, ['wildcard is not supported in selector: "app=*"']],
    [{ '': '*' }, ['empty key is not supported in selector: "=*"', 'wildcard is not supported in selector: "=*"']],
  ])('%j', (labels, errors) => {
    expect(validateWorkloadSelector(labels)).toEqual({ errors, warnings: [] });
  });
});

describe('validateLabel (labels.Instance.Validate)', () => {
  it.each<[string, string, string[]]>([
    ['app', 'web', []],
    ['app.kubernetes.io/name', 'web', []],
    ['a', '', []],
    ['A_b.c-D', 'V_1.2-x', []],
    ['', 'x', ['invalid tag key: ""']],
    ['a/', 'x', ['invalid tag key: "a/"']],
    ['-a', 'x', ['invalid tag key: "-a"']],
    ['a', '-x', ['invalid tag value: "-x"']],
    ['a b', 'x y', ['invalid tag key: "a b"', 'invalid tag value: "x y"']],
    ['n'.repeat(64), 'x', [`invalid tag key: "${'n'.repeat(64)}" (name is too long)`]],
  ])('%j=%j', (key, value, errors) => {
    expect(validateLabel(key, value)).toEqual(errors);
  });
});

describe('HTTP header names (TestStrictValidateHTTPHeaderName, TestValidateHTTPHeaderName)', () => {
  it.each<[string, boolean]>([
    ['header1', true],
    ['X-Requested-With', true],
    [':authority', false],
    ['', false],
    ['foo_bar', true],
    ['foo.bar', false],
  ])('strict %j valid: %s', (name, valid) => {
    expect(validateStrictHTTPHeaderName(name) === undefined).toBe(valid);
  });

  it.each<[string, boolean]>([
    ['header1', true],
    ['X-Requested-With', true],
    [':authority', true],
    ['funky!$#_', true],
    ['', false],
    ['::', false],
    ['illegal"char', false],
    [':method', true],
    [':path', true],
    [':status', true],
    [':scheme', true],
    [':foo', false],
    ['@request.auth.claims.sub', true],
    ['@request.auth.claims.nested.key', true],
    ['@request.auth.claims[sub]', true],
    ['@request.auth.claims[a][b]', true],
    ['@REQUEST.AUTH.CLAIMS.sub', true],
    ['@request.auth.claims', false],
    ['@request.auth.claims.', false],
    ['@request.auth.claims[]', false],
    ['a b', false],
  ])('header name or JWT claim %j valid: %s', (name, valid) => {
    expect(validateHTTPHeaderNameOrJwtClaimRoute(name) === undefined).toBe(valid);
  });

  it('JWT claim routing names', () => {
    expect(isJwtClaimRoute('@request.auth.claims.groups')).toBe(true);
    expect(isJwtClaimRoute('x-jwt')).toBe(false);
  });

  it.each<[string, boolean]>([
    ['*', true],
    ['x-foo', true],
    ['', false],
    ['x foo', false],
    ['x,foo', false],
  ])('CORS %j valid: %s', (name, valid) => {
    expect(validateCORSHTTPHeaderName(name) === undefined).toBe(valid);
  });

  it.each<[string, string | undefined]>([
    ['x-foo', undefined],
    ['', 'header name cannot be empty'],
    ['host', 'invalid header "host": cannot set Host header'],
    ['Host', 'invalid header "Host": cannot set Host header'],
    [':path', 'invalid header ":path": header cannot have ":" prefix'],
    [':authority', 'invalid header ":authority": header cannot have ":" prefix'],
  ])('remove/response operation %j', (name, message) => {
    expect(validateHTTPHeaderOperationName(name)).toBe(message);
  });

  it.each<[string, string | undefined]>([
    ['x-foo', undefined],
    [':authority', undefined],
    [':Authority', undefined],
    ['host', undefined],
    ['HOST', undefined],
    ['', 'header name cannot be empty'],
    [':path', 'invalid header ":path": header cannot have ":" prefix'],
  ])('add/set request operation %j', (name, message) => {
    expect(validateHTTPHeaderWithAuthorityOperationName(name)).toBe(message);
  });

  it('says what is wrong', () => {
    expect(validateStrictHTTPHeaderName('a b')).toBe('header name a b is not a valid header name');
    expect(validateCORSHTTPHeaderName('')).toBe('header name cannot be empty');
  });
});

describe('validateHTTPHeaderValue (TestValidateHTTPHeaderValue, header_value_validator.go)', () => {
  it.each([
    'foo',
    '%HOSTNAME%',
    '100%%',
    'prefix %HOSTNAME% suffix',
    '%DOWNSTREAM_PEER_CERT_V_END(%b %d %H:%M:%S %Y %Z)%',
    '%DYNAMIC_METADATA(com.test.my_filter)%',
    '',
    'a\tb',
    '%REQ(x-foo)%',
    '%PER_REQUEST_STATE(["a", "b"])%',
    '%FOO( ["a"] ) %',
    '%FOO(["a\\"b"])%',
    'héllo wörld',
  ])('%j is valid', (value) => {
    expect(validateHTTPHeaderValue(value)).toBeUndefined();
  });

  it.each<[string, string]>([
    ['%START_TIME%%', 'header value configuration: invalid header configuration. Un-escaped %'],
    ['abc%123', "header value configuration: invalid header configuration. Un-terminated variable expression 'abc%123'"],
    ['%', 'header value configuration: invalid header configuration. Un-escaped %'],
    ['%REQ(x-foo)', "Un-terminated variable expression '%REQ(x-foo)'"],
    ['%FOO(["a" x])%', "invalid header configuration. Expecting ',', ']', or whitespace"],
    ['%FOO([a])%', `invalid header configuration. Expecting '"'`],
    ['%FOO(["a"] x)%', "invalid header configuration. Expecting ')' or whitespace after '{}', but found '{}'"],
    ['%FOO(x) y%', "invalid header configuration. Expecting '%' or whitespace after"],
    ['%FOO(["a\\', 'invalid header configuration. Un-terminated backslash in JSON string'],
    ['a\nb', 'header value configuration a\nb is invalid'],
    ['a\u0000b', 'is invalid'],
    ['a\u007fb', 'is invalid'],
  ])('%j: %s', (value, message) => {
    expect(validateHTTPHeaderValue(value)).toContain(message);
  });
});

describe('validatePercent, validateWeight', () => {
  it.each<[number, boolean]>([
    [0, true],
    [50, true],
    [100, true],
    [-1, false],
    [101, false],
  ])('percent %d valid: %s', (value, valid) => {
    expect(validatePercent(value) === undefined).toBe(valid);
  });
  it('percent message', () => {
    expect(validatePercent(101)).toBe('percentage 101 is not in range 0..100');
  });
  it.each<[number, string | undefined]>([
    [0, undefined],
    [100, undefined],
    [-1, 'weight -1 < 0'],
  ])('weight %d', (weight, message) => {
    expect(validateWeight(weight)).toBe(message);
  });
});

describe('validateMetadata', () => {
  const ctx = (annotations: Record<string, string>) => ({ name: 'x', namespace: 'default', labels: {}, annotations });
  it('accepts ordinary annotations', () => {
    expect(validateMetadata(ctx({ 'kubectl.kubernetes.io/last-applied-configuration': '{}', 'istio.io/dry-run': 'true' }))).toEqual([]);
  });
  it.each<[string, string]>([
    ['internal.istio.io/webhook-always-reject', '"internal.istio.io/webhook-always-reject" annotation found, rejecting'],
    ['internal.istio.io/parent-namespace', '"internal.istio.io/parent-namespace" annotation found, this may not be set by users'],
    ['internal.istio.io/parents', '"internal.istio.io/parents" annotation found, this may not be set by users'],
  ])('refuses %s', (annotation, message) => {
    expect(validateMetadata(ctx({ [annotation]: '' }))).toEqual([message]);
  });
});

// The quick yeses (a scan of the characters) stand in front of split and a pattern per label:
// they may say yes only where the long way finds nothing, and should say it for plain names.
describe('quick yeses for DNS names agree with the long way', () => {
  const alphabet = ['a', 'Z', '0', '-', '.', '*', '_'];
  const all: string[] = [];
  let strings = [''];
  for (let len = 0; len <= 6; len++) {
    all.push(...strings);
    strings = strings.flatMap((s) => alphabet.map((c) => s + c));
  }
  const long = ['a'.repeat(63), 'a'.repeat(64), `${'a'.repeat(63)}.com`, `${'a'.repeat(64)}.com`, `*${'a'.repeat(62)}.com`, `*${'a'.repeat(63)}.com`, `x.${'b'.repeat(63)}`, `x.${'b'.repeat(64)}`, `${'a.'.repeat(127)}com`, `${'a.'.repeat(126)}com`, 'a.12345678901234567890', 'a.123', 'a.-1', 'a.+1', '1.a', 'svc-00001.scale.internal', '*.example.com', 'h-00100.scale.example', 'istio.io.'];
  const names = [...all, ...long];

  it('validateDNS1123Labels: a yes only where the long way finds nothing', () => {
    let yes = 0;
    for (const d of names) {
      if (!plainDNS1123Labels(d, 0)) continue;
      yes++;
      expect(slowDNS1123Labels(d), d).toBeUndefined();
    }
    expect(yes).toBeGreaterThan(5_000);
    for (const d of ['svc-00001.scale.internal', 'reviews', 'istio.io.', 'A-b.c0']) expect(plainDNS1123Labels(d, 0), d).toBe(true);
  });

  it('validateWildcardDomain: a yes only where the long way finds nothing', () => {
    let yes = 0;
    for (const d of names) {
      if (!plainWildcardDomain(d)) continue;
      yes++;
      expect(slowWildcardDomain(d), d).toBeUndefined();
    }
    expect(yes).toBeGreaterThan(5_000);
    for (const d of ['*', '*.example.com', '*-api.example.com', '*api.x', 'h-00100.scale.example']) expect(plainWildcardDomain(d), d).toBe(true);
  });

  it('both ways give the same verdicts through the exported checks', () => {
    for (const d of names) {
      expect(validateDNS1123Labels(d), d).toBe(slowDNS1123Labels(d));
      expect(validateWildcardDomain(d), d).toBe(slowWildcardDomain(d));
    }
  });
});
