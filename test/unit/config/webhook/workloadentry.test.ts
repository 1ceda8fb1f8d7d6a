import { describe, expect, it } from 'vitest';
import { checkWorkloadEntry } from '../../../../src/config/webhook/workloadentry.js';
import { type SpecPath, type WebhookContext } from '../../../../src/config/webhook/types.js';
import { expectFindings, webhookContext } from '../../../helpers/webhook.js';

// Table ported from Istio's pkg/config/validation/validation_test.go (TestValidateWorkloadEntry).
// `error`/`warning` is the text Istio's test looks for (true: any); the path is where meshgate points.
interface Case {
  name: string;
  spec: Record<string, unknown>;
  error?: string | true;
  errorAt?: SpecPath;
  warning?: string | true;
  warningAt?: SpecPath;
}

const CTX: WebhookContext = webhookContext();



const WORKLOAD_ENTRY_CASES: Case[] = [
  { name: 'valid', spec: { address: '1.2.3.4' } },
  { name: 'missing address', spec: {}, error: true, errorAt: ['address'] },
  { name: 'missing address with network', spec: { network: 'network-2' }, warning: true, warningAt: ['address'] },
  { name: 'valid unix endpoint', spec: { address: 'unix:///lon/google/com' } },
  { name: 'invalid unix endpoint', spec: { address: 'unix:///lon/google/com', ports: { '7777': 7777 } }, error: true, errorAt: ['ports'] },
  { name: 'valid FQDN', spec: { address: 'validdns.com', ports: { '7777': 7777 } } },
  { name: 'invalid FQDN', spec: { address: 'invaliddns.com:9443', ports: { '7777': 7777 } }, error: true, errorAt: ['address'] },
  { name: 'valid IP', spec: { address: '172.16.1.1', ports: { '7777': 7777 } } },
];

describe('checkWorkloadEntry: Istio TestValidateWorkloadEntry', () => {
  it.each(WORKLOAD_ENTRY_CASES)('$name', (c) => {
    expectFindings(checkWorkloadEntry(c.spec, CTX), c);
  });
});

// A DNS prefix of 5 × 60 + 4 dots = 304 characters.
const LONG_PREFIX_KEY = `${Array(5).fill('p'.repeat(60)).join('.')}/app`;

describe('checkWorkloadEntry: beyond Istio tables', () => {
  it.each<[string, Record<string, unknown>, Omit<Case, 'name' | 'spec'>]>([
    ['IPv6', { address: '2001:db8::10' }, {}],
    ['IPv6 with zone', { address: 'fe80::1%eth0' }, {}],
    ['IPv4-mapped IPv6', { address: '::ffff:10.0.0.1' }, {}],
    ['single-label host name', { address: 'localhost' }, {}],
    ['host name with trailing dot', { address: 'db.example.com.' }, {}],
    ['address and network', { address: '10.0.0.1', network: 'net-2' }, {}],
    [
      'three-part dotted number is neither IP nor name',
      { address: '1.2.3' },
      { error: 'endpoint address "1.2.3" is not a valid FQDN or an IP address', errorAt: ['address'] },
    ],
    ['IPv4 with a leading zero', { address: '10.0.0.01' }, { error: 'is not a valid FQDN or an IP address', errorAt: ['address'] }],
    ['underscore in a name', { address: 'my_db.example.com' }, { error: 'is not a valid FQDN or an IP address', errorAt: ['address'] }],
    ['URL', { address: 'http://db.example.com' }, { error: 'is not a valid FQDN or an IP address', errorAt: ['address'] }],
    ['CIDR', { address: '10.0.0.0/24' }, { error: 'is not a valid FQDN or an IP address', errorAt: ['address'] }],
    ['name longer than 255', { address: `${'a.'.repeat(128)}com` }, { error: 'is not a valid FQDN or an IP address', errorAt: ['address'] }],
    ['abstract socket', { address: 'unix://@db' }, {}],
    ['relative socket', { address: 'unix://db.sock' }, { error: 'db.sock is not an absolute path to a file', errorAt: ['address'] }],
    ['socket directory', { address: 'unix:///var/run/' }, { error: '/var/run/ is not an absolute path to a file', errorAt: ['address'] }],
    ['empty socket path', { address: 'unix://' }, { error: 'unix address must not be empty', errorAt: ['address'] }],
    ['socket with empty ports', { address: 'unix:///db.sock', ports: {} }, {}],
    ['ports', { address: '10.0.0.1', ports: { http: 8080, 'grpc-web': 9090 } }, {}],
    ['bad port name', { address: '10.0.0.1', ports: { http: 80, Bad_Name: 81 } }, { error: 'invalid port name: Bad_Name', errorAt: ['ports', 'Bad_Name'] }],
    ['port 0', { address: '10.0.0.1', ports: { http: 0 } }, { error: 'port number 0 must be in the range 1..65535', errorAt: ['ports', 'http'] }],
    ['port 70000', { address: '10.0.0.1', ports: { http: 70000 } }, { error: 'port number 70000 must be in the range 1..65535', errorAt: ['ports', 'http'] }],
    [
      'network without address still checks ports',
      { network: 'net-2', ports: { 'x.y': 80 } },
      { warning: 'address is unset with network "net-2"', warningAt: ['address'], error: 'invalid port name: x.y', errorAt: ['ports', 'x.y'] },
    ],
    ['labels', { address: '10.0.0.1', labels: { app: 'web', 'app.kubernetes.io/name': 'web', version: 'v1.2_3', empty: '' } }, {}],
    ['label value with a space', { address: '10.0.0.1', labels: { app: 'my app' } }, { error: 'invalid tag value: "my app"', errorAt: ['labels', 'app'] }],
    ['label value ending in a dash', { address: '10.0.0.1', labels: { app: 'web-' } }, { error: 'invalid tag value: "web-"', errorAt: ['labels', 'app'] }],
    ['label key with two slashes', { address: '10.0.0.1', labels: { 'a/b/c': 'x' } }, { error: 'invalid tag key: "a/b/c"', errorAt: ['labels', 'a/b/c'] }],
    ['label key starting with a dash', { address: '10.0.0.1', labels: { '-app': 'x' } }, { error: 'invalid tag key: "-app"', errorAt: ['labels', '-app'] }],
    [
      'label name over 63',
      { address: '10.0.0.1', labels: { ['n'.repeat(64)]: 'x' } },
      { error: '(name is too long)', errorAt: ['labels', 'n'.repeat(64)] },
    ],
    ['label prefix over 253', { address: '10.0.0.1', labels: { [LONG_PREFIX_KEY]: 'x' } }, { error: '(DNS prefix is too long)', errorAt: ['labels', LONG_PREFIX_KEY] }],
    // Istio checks the value's characters only, not Kubernetes' 63-character limit.
    ['label value of 64 characters', { address: '10.0.0.1', labels: { app: 'v'.repeat(64) } }, {}],
    ['weight has no webhook rule', { address: '10.0.0.1', weight: 0 }, {}],
  ])('%s', (_n, spec, expected) => {
    expectFindings(checkWorkloadEntry(spec, CTX), expected);
  });

  it('without address and network, Istio stops at the missing address', () => {
    const found = checkWorkloadEntry({ ports: { Bad_Name: 0 }, labels: { '-x': 'y' } }, CTX);
    expect(found).toEqual([{ severity: 'error', path: ['address'], message: 'address is required' }]);
  });

  it('a socket with ports reports the ports map, and still checks each port', () => {
    const found = checkWorkloadEntry({ address: 'unix:///db.sock', ports: { http: 0 } }, CTX);
    expect(found.map((f) => [f.path, f.message])).toEqual([
      [['ports'], 'unix endpoint unix:///db.sock must not include ports'],
      [['ports', 'http'], 'port number 0 must be in the range 1..65535'],
    ]);
  });
});
