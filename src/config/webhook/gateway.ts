// Istio's webhook rules for Gateway (pkg/config/validation/validation.go: ValidateGateway,
// validateServer, validateServerPort, validateServerBind, validateTLSOptions). Istio's
// gatewaySemantics branches (Gateway API internals) never apply to user config and are dropped.
import {
  asArray,
  asBoolean,
  asNumber,
  asRecord,
  asString,
  formatPortMessage,
  goQuote,
  isDNS1123Label,
  isHTTPProtocol,
  isTLSProtocol,
  namespaceSlashWildcardHostnameErrors,
  parseProtocol,
  UNIX_ADDRESS_PREFIX,
  UNSUPPORTED_PROTOCOL,
  validateIPAddress,
  validatePort,
  validateUnixAddress,
} from './common.js';
import { Findings, type SpecPath, type WebhookContext, type WebhookFinding } from './types.js';

// ServerTLSSettings.TLSmode: PASSTHROUGH is the proto's zero value, so an unset mode means it.
const DEFAULT_TLS_MODE = 'PASSTHROUGH';
const MUTUAL_MODES = new Set(['MUTUAL', 'OPTIONAL_MUTUAL']);
const CERTIFICATE_MODES = new Set(['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL']);
const PASSTHROUGH_MODES = new Set(['PASSTHROUGH', 'AUTO_PASSTHROUGH']);
const OLD_TLS_VERSIONS = new Set(['TLSV1_0', 'TLSV1_1']);

// security.ValidCipherSuites: BoringSSL's names (`bssl ciphers -openssl-name ALL`, no PSK).
const VALID_CIPHER_SUITES = new Set([
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-RSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-RSA-AES256-SHA',
  'AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-SHA',
  'AES256-SHA',
  'DES-CBC3-SHA',
]);
const ASCII_ALPHANUMERIC = /^[A-Za-z0-9]/;

/** The TLS mode of a ServerTLSSettings, PASSTHROUGH when unset. */
export function serverTLSMode(tls: Record<string, unknown>): string {
  return asString(tls.mode) || DEFAULT_TLS_MODE;
}

/**
 * security.IsValidCipherSuite. Entries not starting with a letter or digit are BoringSSL operators
 * (`-X`, `+X`, `!X`) Istio lets through unparsed. Go looks at the first byte, so any non-ASCII start
 * counts as a letter.
 */
function isValidCipherSuite(cipher: string): boolean {
  if (cipher === '' || cipher === 'ALL') return true;
  const startsLikeName = ASCII_ALPHANUMERIC.test(cipher) || cipher.charCodeAt(0) > 0x7f;
  return !startsLikeName || VALID_CIPHER_SUITES.has(cipher);
}

function checkCipherSuites(tls: Record<string, unknown>, path: SpecPath, out: Findings): void {
  const ciphers = asArray(tls.cipherSuites).map(asString);
  const valid = new Set<string>();
  const reported = new Set<string>();
  ciphers.forEach((cipher, i) => {
    if (!isValidCipherSuite(cipher)) {
      // Istio lists the invalid set in one warning; one per distinct entry points at each.
      if (!reported.has(cipher)) out.warn([...path, 'cipherSuites', i], `ignoring invalid cipher suites: [${cipher}] (not a cipher suite Envoy knows)`);
      reported.add(cipher);
    } else if (valid.has(cipher)) {
      if (!reported.has(cipher)) out.warn([...path, 'cipherSuites', i], `ignoring duplicate cipher suites: [${cipher}]`);
      reported.add(cipher);
    } else {
      valid.add(cipher);
    }
  });
}

/** ISTIO_MUTUAL takes its certificates from the mesh: any other source is an error. */
function checkIstioMutual(tls: Record<string, unknown>, path: SpecPath, out: Findings): void {
  if (asString(tls.serverCertificate)) out.error([...path, 'serverCertificate'], 'ISTIO_MUTUAL TLS cannot have associated server certificate');
  if (asString(tls.privateKey)) out.error([...path, 'privateKey'], 'ISTIO_MUTUAL TLS cannot have associated private key');
  if (asString(tls.caCertificates)) out.error([...path, 'caCertificates'], 'ISTIO_MUTUAL TLS cannot have associated CA bundle');
  if (asArray(tls.tlsCertificates).length > 0) out.error([...path, 'tlsCertificates'], 'ISTIO_MUTUAL TLS cannot have associated tlsCertificates');
  if (asString(tls.credentialName)) out.error([...path, 'credentialName'], 'ISTIO_MUTUAL TLS cannot have associated credentialName');
  if (asArray(tls.credentialNames).length > 0) out.error([...path, 'credentialNames'], 'ISTIO_MUTUAL TLS cannot have associated credentialNames');
}

/** The first certificate field a passthrough server sets, in Istio's order; undefined if none. */
function firstCertificateField(tls: Record<string, unknown>): string | undefined {
  for (const field of ['caCrl', 'serverCertificate', 'privateKey', 'caCertificates', 'credentialName']) {
    if (asString(tls[field])) return field;
  }
  for (const field of ['tlsCertificates', 'credentialNames']) {
    if (asArray(tls[field]).length > 0) return field;
  }
  return undefined;
}

/** How many of credentialName, credentialNames, serverCertificate+privateKey, tlsCertificates are set. */
function certificateSourceCount(tls: Record<string, unknown>): number {
  let count = 0;
  if (asString(tls.serverCertificate) && asString(tls.privateKey)) count++;
  if (asString(tls.credentialName)) count++;
  if (asArray(tls.credentialNames).length > 0) count++;
  if (asArray(tls.tlsCertificates).length > 0) count++;
  return count;
}

/** SIMPLE/MUTUAL with files: each server certificate needs its key, MUTUAL needs a client CA. */
function checkCertificateFiles(tls: Record<string, unknown>, mode: string, path: SpecPath, out: Findings): void {
  const prefix = MUTUAL_MODES.has(mode) ? 'MUTUAL TLS' : 'SIMPLE TLS';
  if (MUTUAL_MODES.has(mode) && !asString(tls.caCertificates)) {
    out.error([...path, 'caCertificates'], `${prefix} requires a client CA bundle`);
  }
  const tlsCertificates = asArray(tls.tlsCertificates);
  if (tlsCertificates.length > 2) out.warn([...path, 'tlsCertificates'], `${prefix} can support up to 2 server certificates`);
  const pairs: { cert: Record<string, unknown>; at: SpecPath }[] =
    tlsCertificates.length > 0 ? tlsCertificates.map((c, i) => ({ cert: asRecord(c) ?? {}, at: [...path, 'tlsCertificates', i] })) : [{ cert: tls, at: path }];
  for (const { cert, at } of pairs) {
    if (!asString(cert.serverCertificate)) out.error([...at, 'serverCertificate'], `${prefix} requires a server certificate (or set credentialName)`);
    if (!asString(cert.privateKey)) out.error([...at, 'privateKey'], `${prefix} requires a private key (or set credentialName)`);
  }
}

/** validateTLSOptions: a Gateway server's (or Sidecar ingress listener's) `tls`, at `path`. */
export function checkServerTLSOptions(tls: Record<string, unknown>, path: SpecPath, out: Findings): void {
  const mode = serverTLSMode(tls);
  if (OLD_TLS_VERSIONS.has(asString(tls.minProtocolVersion)) && asArray(tls.cipherSuites).length === 0) {
    out.warn(
      [...path, 'minProtocolVersion'],
      'TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.',
    );
  }
  checkCipherSuites(tls, path, out);
  if (mode === 'ISTIO_MUTUAL') return checkIstioMutual(tls, path, out);

  if (PASSTHROUGH_MODES.has(mode)) {
    const field = firstCertificateField(tls);
    // Only a warning, for backwards compatibility.
    if (field) out.warn([...path, field], `${mode} mode does not use certificates, they will be ignored`);
  }
  if (certificateSourceCount(tls) > 1) {
    out.error(path, 'only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified');
  }
  const usesCredentials = asString(tls.credentialName) !== '' || asArray(tls.credentialNames).length > 0;
  // With a credential the certificates come from the Secret: nothing more to check here.
  if (CERTIFICATE_MODES.has(mode) && usesCredentials) return;
  if (CERTIFICATE_MODES.has(mode)) checkCertificateFiles(tls, mode, path, out);
  if (asString(tls.caCrl)) {
    if (asString(tls.credentialName)) {
      out.error([...path, 'caCrl'], 'CRL is not supported with credentialName. CRL has to be specified in the credential');
    }
    if (mode === 'SIMPLE') out.error([...path, 'caCrl'], 'CRL is not supported with SIMPLE TLS');
  }
}

/** validateServerPort: reports at `path` (the port); true when it found an error. */
function checkServerPort(port: Record<string, unknown> | undefined, bind: string, path: SpecPath, out: Findings): boolean {
  if (!port) {
    out.error(path, 'port is required');
    return true;
  }
  const before = out.list.length;
  const protocol = asString(port.protocol);
  if (parseProtocol(protocol) === UNSUPPORTED_PROTOCOL) {
    out.error(
      [...path, 'protocol'],
      `invalid protocol ${goQuote(protocol)}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP`,
    );
  }
  const number = asNumber(port.number);
  // A Unix domain socket server has port number 0.
  if (number > 0 || !bind.startsWith(UNIX_ADDRESS_PREFIX)) {
    const invalid = validatePort(number);
    if (invalid) out.error([...path, 'number'], invalid);
  }
  if (asNumber(port.targetPort) > 0) out.error([...path, 'targetPort'], 'targetPort has no impact on Gateways');
  if (asString(port.name) === '') out.error([...path, 'name'], `port name must be set: ${formatPortMessage(port)}`);
  return out.list.length > before;
}

/** validateServerBind: an IP address, or unix://path with port number 0. */
function checkServerBind(port: Record<string, unknown> | undefined, bind: string, path: SpecPath, out: Findings): void {
  if (bind.startsWith(UNIX_ADDRESS_PREFIX)) {
    const invalid = validateUnixAddress(bind.slice(UNIX_ADDRESS_PREFIX.length));
    if (invalid) out.error([...path, 'bind'], invalid);
    if (port && asNumber(port.number) !== 0) {
      out.error([...path, 'port', 'number'], `port number must be 0 for unix domain socket: ${formatPortMessage(port)}`);
    }
  } else if (bind !== '') {
    const invalid = validateIPAddress(bind);
    if (invalid) out.error([...path, 'bind'], invalid);
  }
}

/** HTTPS/TLS servers need `tls`; plain HTTP servers may only use it for httpsRedirect. */
function checkTLSMatchesProtocol(server: Record<string, unknown>, path: SpecPath, out: Findings): void {
  const port = asRecord(server.port) ?? {};
  const tls = asRecord(server.tls);
  const protocol = asString(port.protocol);
  if (isTLSProtocol(protocol)) {
    if (!tls) out.error([...path, 'tls'], 'server must have TLS settings for HTTPS/TLS protocols');
    return;
  }
  if (!tls) return;
  if (!isHTTPProtocol(protocol)) {
    out.error([...path, 'tls'], 'server cannot have TLS settings for non HTTPS/TLS ports');
    return;
  }
  // What remains allowed on HTTP is a passthrough-mode `tls` without files: in practice, httpsRedirect.
  const passthrough = PASSTHROUGH_MODES.has(serverTLSMode(tls));
  if (!passthrough || asString(tls.caCertificates) || asString(tls.privateKey) || asString(tls.serverCertificate)) {
    out.error([...path, 'tls'], 'server cannot have TLS settings for plain text HTTP ports');
  }
}

/** validateServer */
function checkServer(server: Record<string, unknown>, path: SpecPath, out: Findings): void {
  const hosts = asArray(server.hosts);
  if (hosts.length === 0) out.error([...path, 'hosts'], 'server config must contain at least one host');
  hosts.forEach((host, i) => {
    for (const message of namespaceSlashWildcardHostnameErrors(asString(host), true, false)) out.error([...path, 'hosts', i], message);
  });
  const port = asRecord(server.port);
  const bind = asString(server.bind);
  const portInvalid = checkServerPort(port, bind, [...path, 'port'], out);
  checkServerBind(port, bind, path, out);
  const tls = asRecord(server.tls);
  if (tls) checkServerTLSOptions(tls, [...path, 'tls'], out);
  if (!portInvalid) checkTLSMatchesProtocol(server, path, out);
}

/** Port names unique across servers; httpsRedirect only on HTTP servers. */
function checkServerPortNames(servers: readonly unknown[], out: Findings): void {
  const names = new Set<string>();
  servers.forEach((raw, i) => {
    const server = asRecord(raw);
    if (!server) {
      out.error(['servers', i], 'server may not be nil');
      return;
    }
    const port = asRecord(server.port);
    if (!port) return;
    const name = asString(port.name);
    if (names.has(name)) out.error(['servers', i, 'port', 'name'], `port names in servers must be unique: duplicate name ${name}`);
    names.add(name);
    if (!isHTTPProtocol(asString(port.protocol)) && asBoolean(asRecord(server.tls)?.httpsRedirect)) {
      out.warn(['servers', i, 'tls', 'httpsRedirect'], 'tls.httpsRedirect should only be used with http servers');
    }
  });
}

/** ValidateGateway */
export function checkGateway(spec: Record<string, unknown>, ctx: WebhookContext): WebhookFinding[] {
  const out = new Findings();
  // The name becomes part of Envoy resource names: a DNS label, no dots.
  if (!isDNS1123Label(ctx.name)) out.error([], `invalid gateway name: ${goQuote(ctx.name)} (a Gateway name must be a DNS-1123 label: no dots)`);
  const servers = asArray(spec.servers);
  if (servers.length === 0) out.error(['servers'], 'gateway must have at least one server');
  servers.forEach((raw, i) => {
    const server = asRecord(raw);
    if (server) checkServer(server, ['servers', i], out);
    else out.error(['servers', i], 'cannot have nil server');
  });
  checkServerPortNames(servers, out);
  return out.list;
}
