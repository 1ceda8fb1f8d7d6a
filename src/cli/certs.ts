import { X509Certificate, createPrivateKey } from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import {
  createDevCa,
  credentialNameProblem,
  hostProblem,
  issueClientCert,
  issueServerCert,
  writeAtomically,
  writeCredential,
  type Pem,
} from '../tls/dev-certs.js';
import { parse, parseCount, UsageError } from './args.js';
import { CERTS_HELP } from './help.js';

interface CertsOptions {
  out: string;
  hosts: string[];
  name: string | null;
  client: string | null;
  days: number;
  force: boolean;
}

const DAY_MS = 86_400_000;
/** A reused CA must outlive the certificates it is about to sign by at least this much. */
const CA_MIN_REMAINING_DAYS = 30;

export function certsOptionsFrom(argv: string[]): CertsOptions | 'help' {
  const { values } = parse('certs', argv, {
    out: { type: 'string' },
    hosts: { type: 'string' },
    name: { type: 'string' },
    client: { type: 'string' },
    days: { type: 'string' },
    force: { type: 'boolean' },
  });
  if (values.help) return 'help';
  const out = values.out as string | undefined;
  if (out === undefined || out === '') throw new UsageError('--out DIR is required: the directory the gateway reads credentials from (meshgate serve --tls-dir, default ./tls)');
  const hosts = ((values.hosts as string | undefined) ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  const client = (values.client as string | undefined) ?? null;
  if (hosts.length === 0 && client === null) throw new UsageError('--hosts H1,H2 is required (the names clients connect to), or --client NAME for a client certificate only');
  for (const h of hosts) {
    const problem = hostProblem(h);
    if (problem) throw new UsageError(`--hosts: ${problem}`);
  }
  let name = (values.name as string | undefined) ?? null;
  if (name !== null && hosts.length === 0) throw new UsageError('--name names the server credential, which --hosts asks for; give --hosts too');
  if (name === null && hosts.length > 0) {
    const first = hosts[0]!;
    // ':' is no good in a file name (nor '-' first, which reads as an option when passed back).
    name = isIP(first) === 6 ? `ipv6-${first.replace(/:/g, '-')}` : first.replace(/\*/g, 'wildcard');
  }
  for (const [flag, n] of [['--name', name], ['--client', client]] as const) {
    if (n === null) continue;
    const problem = credentialNameProblem(n);
    if (problem) throw new UsageError(`${flag}: ${problem}`);
    // DIR/ca.crt and DIR/ca.key are the CA; a credential called "ca" would overwrite it.
    if (n === 'ca') throw new UsageError(`${flag}: "ca" is taken by the CA's own files (ca.crt, ca.key); choose another name`);
  }
  if (name !== null && name === client) throw new UsageError(`--client: ${JSON.stringify(client)} is also the server credential's name; choose another`);
  const days = values.days === undefined ? 825 : parseCount('--days', values.days as string);
  return { out, hosts, name, client, days, force: values.force === true };
}

export async function certsCommand(argv: string[]): Promise<number> {
  const opts = certsOptionsFrom(argv);
  if (opts === 'help') {
    process.stdout.write(CERTS_HELP);
    return 0;
  }
  try {
    return await run(opts);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code === 'string' && typeof err.syscall === 'string') {
      process.stderr.write(`meshgate certs: cannot ${err.syscall} ${err.path ?? ''}: ${err.code}\n`);
      return 1;
    }
    throw e;
  }
}

async function run(o: CertsOptions): Promise<number> {
  const say = (line = '') => process.stdout.write(`${line}\n`);
  const file = (n: string) => path.join(o.out, n);
  const caFile = file('ca.crt');
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(notBefore.getTime() + o.days * DAY_MS);

  const serverExists = o.name !== null && (await someExist(file(`${o.name}.crt`), file(`${o.name}.key`)));
  const clientExists = o.client !== null && (await someExist(file(`${o.client}.crt`), file(`${o.client}.key`)));
  const issueServer = o.name !== null && (o.force || !serverExists);
  const issueClient = o.client !== null && (o.force || !clientExists);

  // The CA is made or read only when something is to be signed: with every credential already
  // in place (a start script may run this every time), nothing is touched, not even a missing CA.
  let ca: Pem | null = null;
  if (issueServer || issueClient) {
    const found = await readCa(o.out, notAfter);
    if ('problem' in found && found.problem !== null && !o.force) {
      process.stderr.write(`meshgate certs: ${caFile}: ${found.problem}; certificates it signed stop being trusted if it is replaced, so --force is needed to make a new CA (or remove ca.crt and ca.key)\n`);
      return 1;
    }
    if ('pem' in found) {
      ca = found.pem;
      say(`CA: reusing ${caFile} (${describeCert(ca.cert)})`);
    } else {
      ca = createDevCa();
      await mkdir(o.out, { recursive: true });
      await writeAtomically(file('ca.key'), ca.key, 0o600);
      await writeAtomically(caFile, ca.cert, 0o644);
      if (found.problem === null) say(`CA: created ${caFile} and ${file('ca.key')} (${describeCert(ca.cert)})`);
      else {
        say(`CA: made a new ${caFile} and ${file('ca.key')} (${describeCert(ca.cert)}) in place of the old (${found.problem})`);
        say('    credentials the old CA signed are not trusted by the new ca.crt: remake them with --force');
      }
      say('    development only: anyone with ca.key can impersonate any host to whoever trusts ca.crt');
    }
  }

  if (o.name !== null) {
    say();
    if (issueServer) {
      const pem = issueServerCert(ca!, o.hosts, { notBefore, notAfter });
      const written = await writeCredential(o.out, o.name, { ...pem, ca: ca!.cert });
      say(`server credential ${JSON.stringify(o.name)} for ${o.hosts.join(', ')}, valid until ${notAfter.toISOString().slice(0, 10)}:`);
      for (const w of written.sort()) say(`  ${w}`);
    } else {
      say(`server credential ${JSON.stringify(o.name)}: ${file(`${o.name}.crt`)} exists, left as it is (--force replaces it)`);
      const note = await staleness(file(`${o.name}.crt`), caFile, o.hosts);
      if (note) say(`  note: ${note}; --force issues a new one`);
    }
  }
  if (o.client !== null) {
    say();
    if (issueClient) {
      const pem = issueClientCert(ca!, o.client, { notBefore, notAfter });
      const written = await writeCredential(o.out, o.client, pem);
      say(`client certificate CN=${o.client}, valid until ${notAfter.toISOString().slice(0, 10)}:`);
      for (const w of written.sort()) say(`  ${w}`);
    } else {
      say(`client certificate ${JSON.stringify(o.client)}: ${file(`${o.client}.crt`)} exists, left as it is (--force replaces it)`);
      const note = await staleness(file(`${o.client}.crt`), caFile, []);
      if (note) say(`  note: ${note}; --force issues a new one`);
    }
  }

  say();
  if (o.name !== null) {
    say(`Use it: a Gateway server with tls: {mode: SIMPLE, credentialName: ${o.name}} (MUTUAL to require client certificates),`);
    say(`        served by: meshgate serve --tls-dir ${o.out}`);
  }
  say('Try it:');
  say(`  ${curlLine(o, caFile)}`);
  return 0;
}

type CaFound = { pem: Pem } | { problem: string | null };

/** The CA in DIR, or why it cannot sign (problem null: there is none yet). */
async function readCa(dir: string, mustOutlive: Date): Promise<CaFound> {
  const cert = await readIfExists(path.join(dir, 'ca.crt'));
  const key = await readIfExists(path.join(dir, 'ca.key'));
  if (cert === null && key === null) return { problem: null };
  if (cert === null || key === null) return { problem: `${cert === null ? 'ca.crt' : 'ca.key'} is missing, the other is there` };
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
    if (!x.checkPrivateKey(createPrivateKey(key))) return { problem: 'ca.key is not the key of ca.crt' };
  } catch {
    return { problem: 'ca.crt or ca.key is not a readable PEM certificate and key' };
  }
  if (!x.ca) return { problem: 'it is not a CA certificate' };
  if (Date.parse(x.validTo) < mustOutlive.getTime() + CA_MIN_REMAINING_DAYS * DAY_MS) {
    return { problem: `it expires ${x.validTo}, too soon to sign certificates valid until ${mustOutlive.toISOString().slice(0, 10)}` };
  }
  return { pem: { cert, key } };
}

/** Why a credential left in place may not do what was asked, or null. */
async function staleness(certFile: string, caFile: string, hosts: string[]): Promise<string | null> {
  const notes: string[] = [];
  if ((await readIfExists(certFile.replace(/\.crt$/, '.key'))) === null) notes.push('its key file is missing');
  try {
    const x = new X509Certificate(await readFile(certFile));
    if (Date.parse(x.validTo) < Date.now()) notes.push(`it expired ${x.validTo}`);
    // Any name one level under a wildcard host stands for it: a *.example.com SAN covers it.
    const missing = hosts.filter((h) => (isIP(h) ? x.checkIP(h) === undefined : x.checkHost(h.replace(/^\*\./, 'any-name.')) === undefined));
    if (missing.length > 0) notes.push(`it does not cover ${missing.join(', ')}`);
    const caText = await readIfExists(caFile);
    if (caText !== null && !x.verify(new X509Certificate(caText).publicKey)) notes.push(`it was not signed by ${caFile}`);
  } catch {
    notes.push('it is not a readable certificate');
  }
  return notes.length > 0 ? notes.join('; ') : null;
}

function curlLine(o: CertsOptions, caFile: string): string {
  const clientArgs = o.client !== null ? ` --cert ${path.join(o.out, `${o.client}.crt`)} --key ${path.join(o.out, `${o.client}.key`)}` : '';
  const first = o.hosts[0];
  if (first === undefined) return `curl --cacert ${caFile}${clientArgs} --resolve HOST:8443:127.0.0.1 https://HOST:8443/   (HOST: a host of the MUTUAL server)`;
  if (isIP(first)) return `curl --cacert ${caFile}${clientArgs} https://${isIP(first) === 6 ? `[${first}]` : first}:8443/`;
  // A wildcard name is not a host one can connect to; any name under it is.
  const host = first.replace(/^\*\./, 'www.');
  return `curl --cacert ${caFile}${clientArgs} --resolve ${host}:8443:127.0.0.1 https://${host}:8443/`;
}

function describeCert(pem: string): string {
  const x = new X509Certificate(pem);
  return `${x.subject.split('\n')[0]}, valid until ${new Date(x.validTo).toISOString().slice(0, 10)}`;
}

async function someExist(...files: string[]): Promise<boolean> {
  for (const f of files) {
    try {
      await access(f);
      return true;
    } catch {
      // absent
    }
  }
  return false;
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}
