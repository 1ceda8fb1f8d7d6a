/**
 * Envoy as Istio configures it normalises paths before routing (RFC 3986 dot segments, with
 * backslashes read as slashes as URL parsers read them), so that `/public/../admin` or
 * `/public\..\admin` cannot slip past a `prefix: /public` rule. The fast check keeps ordinary
 * paths allocation-free.
 */
export function normalizePath(path: string): string {
  if (path.indexOf('/.') < 0 && path.indexOf('%2') < 0 && path.indexOf('\\') < 0) return path;
  const decoded = path.replace(/%2e/gi, '.').replace(/\\/g, '/');
  const out: string[] = [];
  const segs = decoded.split('/');
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i]!;
    if (s === '.') {
      if (i === segs.length - 1) out.push('');
      continue;
    }
    if (s === '..') {
      out.pop();
      if (i === segs.length - 1) out.push('');
      continue;
    }
    out.push(s);
  }
  return '/' + out.join('/');
}

export interface RequestTarget {
  /** Authority from an absolute-form target, else undefined (use the Host header). */
  authority: string | undefined;
  path: string;
  rawQuery: string;
}

/**
 * Splits `req.url` (origin-form `/p?q` or absolute-form `http://h/p?q`) for routing; null for a
 * target that is neither, or an absolute form carrying userinfo (`http://a@b/`), which only
 * serves to confuse which host is meant.
 */
export function splitTarget(url: string): RequestTarget | null {
  let authority: string | undefined;
  let rest = url;
  if (url.charCodeAt(0) !== 47 /* / */) {
    const m = /^https?:\/\/([^/?#\\]+)(.*)$/i.exec(url);
    if (!m || m[1]!.includes('@')) return null;
    authority = m[1]!;
    rest = m[2] === '' ? '/' : m[2]!;
    if (rest[0] !== '/') rest = '/' + rest;
  }
  // A fragment is the client's business; Envoy strips it before routing.
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  return { authority, path: normalizePath(path), rawQuery: q < 0 ? '' : rest.slice(q + 1) };
}
