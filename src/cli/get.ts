import { loadConfig } from '../config/load.js';
import { formatProblem, hasErrors } from '../config/problems.js';
import type { ConfigObject, DestinationRuleSpec, ServiceEntrySpec, VirtualServiceSpec } from '../config/types.js';
import { table } from '../compile/describe.js';
import { parse, UsageError } from './args.js';
import { GET_HELP } from './help.js';

interface KindColumns {
  kind: string;
  plural: string;
  columns: string[];
  row(o: ConfigObject): string[];
}

const list = (v: string[] | undefined) => `[${(v ?? []).join(' ')}]`;

// The additionalPrinterColumns of Istio's CRDs, which is what `kubectl get` prints.
const KINDS: KindColumns[] = [
  { kind: 'Gateway', plural: 'gateways', columns: [], row: () => [] },
  {
    kind: 'VirtualService',
    plural: 'virtualservices',
    columns: ['GATEWAYS', 'HOSTS'],
    row: (o) => {
      const s = o.spec as VirtualServiceSpec;
      return [list(s.gateways), list(s.hosts)];
    },
  },
  { kind: 'DestinationRule', plural: 'destinationrules', columns: ['HOST'], row: (o) => [(o.spec as DestinationRuleSpec).host] },
  {
    kind: 'ServiceEntry',
    plural: 'serviceentries',
    columns: ['HOSTS', 'LOCATION', 'RESOLUTION'],
    row: (o) => {
      const s = o.spec as ServiceEntrySpec;
      return [list(s.hosts), s.location ?? '', s.resolution ?? ''];
    },
  },
];

const ALIASES: Record<string, string> = {
  gateway: 'Gateway', gateways: 'Gateway', gw: 'Gateway',
  virtualservice: 'VirtualService', virtualservices: 'VirtualService', vs: 'VirtualService',
  destinationrule: 'DestinationRule', destinationrules: 'DestinationRule', dr: 'DestinationRule',
  serviceentry: 'ServiceEntry', serviceentries: 'ServiceEntry', se: 'ServiceEntry',
};

/** kubectl's age format (k8s.io/apimachinery duration.HumanDuration). */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

export async function getCommand(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), now = Date.now()): Promise<number> {
  const { values, positionals } = parse('get', argv, {
    namespace: { type: 'string', short: 'n' },
    'all-namespaces': { type: 'boolean', short: 'A' },
    config: { type: 'string', short: 'c', multiple: true },
    'default-namespace': { type: 'string' },
  }, true);
  if (values.help) {
    out(GET_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('meshgate get: name one KIND: gateways, virtualservices, destinationrules or serviceentries');
  const kindName = ALIASES[positionals[0]!.toLowerCase().replace(/\.networking\.istio\.io$/, '')];
  if (!kindName) throw new UsageError(`meshgate get: unknown kind ${JSON.stringify(positionals[0])}: use gateways, virtualservices, destinationrules or serviceentries`);
  if (values.namespace !== undefined && values['all-namespaces']) throw new UsageError('meshgate get: use either -n NS or -A, not both');
  const defaultNamespace = (values['default-namespace'] as string | undefined) ?? 'default';
  const loaded = await loadConfig((values.config as string[] | undefined) ?? ['./gateways'], { defaultNamespace });
  if (hasErrors(loaded.problems)) {
    for (const p of loaded.problems) if (p.severity === 'error') process.stderr.write(formatProblem(p) + '\n');
    return 1;
  }
  const kind = KINDS.find((k) => k.kind === kindName)!;
  const all = values['all-namespaces'] === true;
  const ns = (values.namespace as string | undefined) ?? defaultNamespace;
  const objs = loaded.objects
    .filter((o) => o.kind === kind.kind && (all || o.namespace === ns))
    .sort((a, b) => (all && a.namespace !== b.namespace ? (a.namespace < b.namespace ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (objs.length === 0) {
    process.stderr.write(all ? 'No resources found\n' : `No resources found in ${ns} namespace.\n`);
    return 0;
  }
  const header = [...(all ? ['NAMESPACE'] : []), 'NAME', ...kind.columns, 'AGE'];
  const rows = objs.map((o) => [...(all ? [o.namespace] : []), o.name, ...kind.row(o), humanDuration(now - o.createdMs)]);
  out(table([header, ...rows]));
  return 0;
}
