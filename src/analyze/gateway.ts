// Gateway analyzers: TLS credentials (IST0101, IST0161), servers that conflict with another
// Gateway on the same workload and port (IST0145), certificates shared between Gateways (IST0138).
import { X509Certificate } from 'node:crypto';
import type { ConfigObject } from '../config/types.js';
import {
  arr,
  at,
  byString,
  fullName,
  goList,
  goQuote,
  labelsOf,
  num,
  obj,
  selectorString,
  shortOrFullName,
  specOf,
  str,
  strs,
  type Context,
  type Obj,
} from './common.js';

interface Server {
  index: number;
  port: number | undefined;
  bind: string;
  hosts: readonly string[];
  tls: Obj | undefined;
}

function servers(gw: ConfigObject): Server[] {
  const out: Server[] = [];
  arr(specOf(gw).servers).forEach((raw, index) => {
    const s = obj(raw);
    if (!s) return;
    out.push({ index, port: num(obj(s.port)?.number), bind: str(s.bind), hosts: strs(s.hosts), tls: obj(s.tls) });
  });
  return out;
}

// ---- credentials -----------------------------------------------------------------------------

/** The Secret's entries as text: `data` decoded from base64, `stringData` as written (and winning). */
function secretEntries(secret: ConfigObject): Map<string, string> {
  const out = new Map<string, string>();
  const body = specOf(secret);
  const data = obj(body.data);
  if (data) {
    for (const [k, v] of Object.entries(data)) {
      if (typeof v === 'string') out.set(k, Buffer.from(v, 'base64').toString('utf8'));
    }
  }
  const stringData = obj(body.stringData);
  if (stringData) for (const [k, v] of Object.entries(stringData)) if (typeof v === 'string') out.set(k, v);
  return out;
}

/** Istio's check of a gateway credential: a cert/key pair, and a certificate that parses and is current. */
export function isValidCredential(secret: ConfigObject, nowMs: number = Date.now()): boolean {
  const e = secretEntries(secret);
  let cert: string | undefined;
  if (e.get('cert') && e.get('key')) cert = e.get('cert');
  else if (e.get('tls.crt') && e.get('tls.key')) cert = e.get('tls.crt');
  if (!cert) return false;
  const block = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/.exec(cert);
  if (!block) return false;
  try {
    const x = new X509Certificate(block[0]);
    const from = Date.parse(x.validFrom);
    const to = Date.parse(x.validTo);
    if (Number.isFinite(from) && nowMs < from) return false;
    if (Number.isFinite(to) && nowMs > to) return false;
    return true;
  } catch {
    return false;
  }
}

export function analyzeGatewaySecrets(ctx: Context): void {
  for (const gw of ctx.ofKind('Gateway')) {
    for (const s of servers(gw)) {
      const cn = str(s.tls?.credentialName);
      if (cn === '') continue;
      const path = at(gw, 'servers', s.index, 'tls', 'credentialName');
      const ref = shortOrFullName(gw.namespace, cn);
      const secret = ctx.find('Secret', ref.namespace, ref.name);
      if (!secret) {
        ctx.report('IST0101', gw, path, `Referenced credentialName not found: ${goQuote(cn)}`);
        continue;
      }
      if (!isValidCredential(secret)) {
        ctx.report(
          'IST0161',
          gw,
          path,
          `The credential referenced by the Gateway ${gw.name} in namespace ${gw.namespace} is invalid, which can cause the traffic not to work as expected.`,
        );
      }
    }
  }
}

// ---- conflicting servers -------------------------------------------------------------------

export function analyzeConflictingGateways(ctx: Context): void {
  const gateways = ctx.ofKind('Gateway');
  // Without pods, two Gateways select the same workload when their selectors are identical.
  const info = gateways.map((gw) => ({ gw, selector: selectorString(labelsOf(specOf(gw).selector)), servers: servers(gw) }));
  // The Gateways with a server on each selector, port, bind and host, in order: a server looks up
  // its own hosts instead of comparing itself with every server of every Gateway (1,000 Gateways:
  // a million comparisons).
  const holders = new Map<string, ConfigObject[]>();
  for (const i of info) {
    for (const s of i.servers) {
      if (s.port === undefined) continue;
      for (const h of s.hosts) {
        const key = serverKey(i.selector, s, h);
        const list = holders.get(key);
        if (list === undefined) holders.set(key, [i.gw]);
        else if (list[list.length - 1] !== i.gw) list.push(i.gw);
      }
    }
  }
  for (const cur of info) {
    const curName = fullName(cur.gw);
    for (const s of cur.servers) {
      if (s.port === undefined) continue;
      const names: string[] = [];
      for (const h of s.hosts) {
        for (const other of holders.get(serverKey(cur.selector, s, h)) ?? []) {
          if (other === cur.gw) continue;
          const name = fullName(other);
          if (name !== curName && !names.includes(name)) names.push(name);
        }
      }
      if (names.length === 0) continue;
      names.sort(byString);
      ctx.report(
        'IST0145',
        cur.gw,
        at(cur.gw, 'servers', s.index),
        `Conflict with gateways ${names.join(',')} (workload selector ${cur.selector}, port ${s.port}, hosts ${s.hosts.join(',')}).`,
      );
    }
  }
}

function serverKey(selector: string, s: Server, host: string): string {
  return `${selector}\0${s.port}\0${s.bind}\0${host}`;
}

// ---- duplicate certificates ----------------------------------------------------------------

/** Every label of `x` is in `y` with the same value. */
function selectorSubset(x: Record<string, string>, y: Record<string, string>): boolean {
  return Object.entries(x).every(([k, v]) => y[k] === v);
}

export function analyzeDuplicateCertificates(ctx: Context): void {
  const gateways = ctx.ofKind('Gateway');
  const order = new Map(gateways.map((g, i) => [g, i]));
  const serversOf = new Map(gateways.map((g) => [g, servers(g)]));
  // The Gateways with a TLS server on each certificate, in order: a Gateway is compared only with
  // those that share one of its certificates, not with every other (1,000 Gateways: a million
  // pairs, each listing both Gateways' servers again).
  const holders = new Map<string, ConfigObject[]>();
  // Each TLS server's certificate, as one text: two servers share a certificate when theirs are equal.
  const certificates = new Map<object, string>();
  for (const g of gateways) {
    for (const s of serversOf.get(g)!) {
      const key = certificateKey(s.tls);
      if (key === undefined) continue;
      certificates.set(s, key);
      const list = holders.get(key);
      if (list === undefined) holders.set(key, [g]);
      else if (list[list.length - 1] !== g) list.push(g);
    }
  }
  for (const cur of gateways) {
    const curServers = serversOf.get(cur)!;
    const candidates = new Set<ConfigObject>();
    for (const cs of curServers) {
      const key = certificates.get(cs);
      if (key !== undefined) for (const g of holders.get(key)!) candidates.add(g);
    }
    if (candidates.size < 2) continue;
    const sel = labelsOf(specOf(cur).selector);
    for (const other of [...candidates].sort((a, b) => order.get(a)! - order.get(b)!)) {
      if (other === cur || fullName(other) === fullName(cur)) continue;
      if (Object.keys(sel).length > 0 && !selectorSubset(sel, labelsOf(specOf(other).selector))) continue;
      const otherServers = serversOf.get(other)!;
      for (const cs of curServers) {
        const key = certificates.get(cs);
        if (key === undefined) continue;
        for (const os of otherServers) {
          if (certificates.get(os) !== key) continue;
          ctx.report(
            'IST0138',
            cur,
            at(cur, 'servers', cs.index, 'tls'),
            `Duplicate certificate in multiple gateways ${goList([fullName(cur), fullName(other)])} may cause 404s if clients re-use HTTP2 connections.`,
          );
        }
      }
    }
  }
}

/**
 * A TLS server's certificate as one text, as Istio compares them: the same credentialName, or
 * (neither naming one) the same certificate and key files; undefined when it names neither.
 */
function certificateKey(tls: Obj | undefined): string | undefined {
  if (!tls) return undefined;
  const credential = str(tls.credentialName);
  if (credential !== '') return `credential\0${credential}`;
  const cert = str(tls.serverCertificate);
  const key = str(tls.privateKey);
  return cert !== '' && key !== '' ? `files\0${cert}\0${key}` : undefined;
}
