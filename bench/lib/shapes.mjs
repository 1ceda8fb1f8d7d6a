// Large configs of other shapes than bench:scale's (many VirtualServices in 300 files, one
// Gateway): each once hid a cost that grew faster than the config (README, "Large configs").
import fs from 'node:fs';
import path from 'node:path';
import { scaleServiceEntry, writeScaleConfig } from './config.mjs';

const pad = (n) => String(n).padStart(5, '0');
const doc = (lines) => lines.join('\n');

function writeDocs(dir, name, docs) {
  fs.writeFileSync(path.join(dir, name), docs.join('\n---\n') + '\n');
}

/** 10,000 Kubernetes Services, each with its Endpoints and a VirtualService, 100 of each to a file. */
function services(dir, upstreamPort) {
  writeDocs(dir, '00-gateway.yaml', [gateway('scale', '*.scale.example')]);
  for (let f = 0; f < 100; f++) {
    const docs = [];
    for (let i = f * 100; i < (f + 1) * 100; i++) {
      const name = `svc-${pad(i)}`;
      docs.push(
        doc(['apiVersion: v1', 'kind: Service', `metadata: {name: ${name}, namespace: default}`, 'spec:', '  ports: [{name: http, port: 80}]']),
        doc(['apiVersion: v1', 'kind: Endpoints', `metadata: {name: ${name}, namespace: default}`, 'subsets:', '- addresses: [{ip: 127.0.0.1}]', `  ports: [{name: http, port: ${upstreamPort}}]`]),
        virtualService(`vs-${pad(i)}`, `h-${pad(i)}.scale.example`, 'scale', [`  - route: [{destination: {host: ${name}}}]`]),
      );
    }
    writeDocs(dir, `f-${pad(f)}.yaml`, docs);
  }
}

/** 1,000 Gateways on port 80 (one wildcard host each) and 30,000 VirtualServices spread over them. */
function gateways(dir, upstreamPort) {
  const gws = [];
  for (let g = 0; g < 1000; g++) gws.push(gateway(`gw-${g}`, `*.t${g}.example`));
  writeDocs(dir, '00-gateways.yaml', gws);
  for (let f = 0; f < 300; f++) {
    const svc = `svc-${pad(f)}.scale.internal`;
    const docs = [scaleServiceEntry(`svc-${pad(f)}`, svc, upstreamPort)];
    for (let i = f * 100; i < (f + 1) * 100; i++) {
      const g = i % 1000;
      docs.push(virtualService(`vs-${pad(i)}`, `h-${pad(i)}.t${g}.example`, `gw-${g}`, [`  - route: [{destination: {host: ${svc}}}]`]));
    }
    writeDocs(dir, `f-${pad(f)}.yaml`, docs);
  }
}

/** One VirtualService of 5,000 uri-prefix routes (an API gateway's one host). */
function bigVirtualService(dir, upstreamPort) {
  const routes = [];
  for (let i = 0; i < 5000; i++) routes.push(`  - match: [{uri: {prefix: /api/v1/resource-${i}/}}]`, '    route: [{destination: {host: svc.scale.internal}}]');
  writeDocs(dir, 'big.yaml', [gateway('scale', '*.scale.example'), scaleServiceEntry('svc', 'svc.scale.internal', upstreamPort), virtualService('big', 'api.scale.example', 'scale', routes)]);
}

function gateway(name, host) {
  return doc(['apiVersion: networking.istio.io/v1', 'kind: Gateway', `metadata: {name: ${name}, namespace: default}`, 'spec:', '  servers:', '  - port: {number: 80, name: http, protocol: HTTP}', `    hosts: ["${host}"]`]);
}

function virtualService(name, host, gatewayName, httpLines) {
  return doc(['apiVersion: networking.istio.io/v1', 'kind: VirtualService', `metadata: {name: ${name}, namespace: default}`, 'spec:', `  hosts: [${host}]`, `  gateways: [${gatewayName}]`, '  http:', ...httpLines]);
}

/** The shapes, by name: what each is, and how to write it into an empty directory. */
export const SHAPES = {
  baseline: { what: "30,000 VirtualServices in 300 files, one Gateway (bench:scale's)", write: (dir, port) => writeScaleConfig(dir, port, { vs: 30000 }) },
  files: { what: '10,000 VirtualServices with a ServiceEntry and DestinationRule each, one per file (10,001 files)', write: (dir, port) => writeScaleConfig(dir, port, { vs: 10000, perFile: 1 }) },
  services: { what: '10,000 Kubernetes Services with Endpoints and a VirtualService each', write: services },
  gateways: { what: '1,000 Gateways on port 80, 30,000 VirtualServices spread over them', write: gateways },
  'big-vs': { what: 'one VirtualService of 5,000 uri-prefix routes', write: bigVirtualService },
  features: { what: '30,000 VirtualServices whose routes carry a timeout, retries, header edits, a rewrite', write: (dir, port) => writeScaleConfig(dir, port, { vs: 30000, features: true }) },
  regex: { what: '30,000 VirtualServices whose first three routes match a regex (90,000)', write: (dir, port) => writeScaleConfig(dir, port, { vs: 30000, regex: true }) },
};
