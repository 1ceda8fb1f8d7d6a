import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigTexts } from '../../../src/config/load.js';
import { analyze } from '../../../src/analyze/index.js';

const ROOT = path.resolve(__dirname, '../../fixtures/istio-samples');

async function yamlFiles(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.yaml')).sort();
  return names.map((n) => path.join(dir, n));
}

async function loadSample(files: string[]) {
  const sources = await Promise.all(files.map(async (file) => ({ file, text: await readFile(file, 'utf8'), mtimeMs: 0 })));
  return parseConfigTexts(sources, { defaultNamespace: 'default' });
}

const errorsOf = (objects: Parameters<typeof analyze>[0]) =>
  analyze(objects, { defaultNamespace: 'default' })
    .filter((m) => m.level === 'error')
    .map((m) => `${m.code} ${m.object.ref} ${m.message}`);

const BOOKINFO = path.join(ROOT, 'bookinfo');
const BOOKINFO_SERVICES = path.join(BOOKINFO, 'platform/kube/bookinfo.yaml');

// cert-manager creates the `cert-manager-resolver` Service while it answers an ACME challenge;
// the sample routes to it before it exists, and Istio's analyzer says so too.
const CERT_MANAGER = 'IST0101 VirtualService istio-system/cert-manager Referenced host not found: "cert-manager-resolver"';

describe('Istio samples', () => {
  for (const name of ['httpbin', 'helloworld']) {
    it(`${name}: no error-level message`, async () => {
      const { objects, problems } = await loadSample(await yamlFiles(path.join(ROOT, name)));
      expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
      expect(objects.length).toBeGreaterThan(1);
      expect(errorsOf(objects)).toEqual([]);
    });
  }

  it('bookinfo/networking, all files with the Services: only the findings the combination really has', async () => {
    const files = [...(await yamlFiles(path.join(BOOKINFO, 'networking'))), BOOKINFO_SERVICES];
    const { objects, problems } = await loadSample(files);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    // The task files are alternatives: loaded together, later ones replace earlier objects of the
    // same name. fault-injection-details-v1.yaml leaves `details` with subset v1 only, while
    // virtual-service-details-v2.yaml routes to v2.
    expect(errorsOf(objects)).toEqual([CERT_MANAGER, 'IST0101 VirtualService default/details Referenced host+subset in destinationrule not found: "details+v2"']);
  });

  it('bookinfo/networking, each task file over the Services and destination-rule-all.yaml: no error-level message', async () => {
    const base = [BOOKINFO_SERVICES, path.join(BOOKINFO, 'networking/destination-rule-all.yaml')];
    for (const file of await yamlFiles(path.join(BOOKINFO, 'networking'))) {
      const { objects, problems } = await loadSample([...base, file]);
      expect(problems.filter((p) => p.severity === 'error'), file).toEqual([]);
      const expected = file.endsWith('certmanager-gateway.yaml') ? [CERT_MANAGER] : [];
      expect(errorsOf(objects), file).toEqual(expected);
    }
  });
});
