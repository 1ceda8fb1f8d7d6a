/**
 * The URI and DNS names of a certificate's subjectAltName, as Node renders it
 * (`DNS:a.example.com, URI:spiffe://...`; X509Certificate.subjectAltName or a peer
 * certificate's `subjectaltname`). Other kinds (IP Address, email) are left out.
 */
export function sanNames(text: string | undefined): { uris: string[]; dns: string[] } {
  const uris: string[] = [];
  const dns: string[] = [];
  for (const part of (text ?? '').split(', ')) {
    if (part.startsWith('URI:')) uris.push(part.slice(4));
    else if (part.startsWith('DNS:')) dns.push(part.slice(4));
  }
  return { uris, dns };
}
