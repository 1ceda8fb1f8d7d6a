export const MAIN_HELP = `meshgate: an Istio-compatible ingress/egress gateway. Same YAML, same answers as Envoy.

Usage: meshgate <command> [options]

Commands:
  serve      run the gateway on the config in ./gateways (or -c PATH)
  validate   check config files; exit 1 and one line per problem when invalid
  routes     print the effective route table
  explain    say where a request would go, or at which step it falls out and why
  get        list Istio objects the way kubectl get does (gateways, virtualservices, ...)
  certs      make a development CA and TLS certificates for credentialName (and mutual TLS)

Run 'meshgate <command> --help' for the options of a command.
`;

export const SERVE_HELP = `Usage: meshgate serve [options]

Run the gateway: listen on every Gateway server port, route by Host and URI as the
VirtualServices say, forward to the services' endpoints.

Options:
  -c, --config PATH           file or directory of YAML/JSON config, repeatable (default ./gateways)
      --listen GWPORT=[HOST:]PORT
                              serve Gateway port GWPORT on this local address, repeatable
                              (default 80=8080, 443=8443, any other port on its own number)
      --status-port N         /healthz/ready (default 15021)
      --admin-port N          loopback-only /config_dump, /routes, /clusters, /egress (default 15000)
      --tls-dir DIR           where credentialName secrets are looked up (default ./tls)
      --default-namespace NS  namespace of objects without metadata.namespace (default default)
      --workers N             worker processes sharing the listeners, each balancing on its own
                              as Envoy's worker threads do (default: number of cores; 1 serves
                              from this one process)
      --log-format text|json  log and access log format (default text)
      --access-log stdout|off one line per request (Istio's default format) on stdout (default
                              stdout; the gateway's own log goes to stderr)
      --mesh-listen [HOST:]PORT
                              serve VirtualServices bound to 'mesh' here, and be the forward
                              proxy (HTTP_PROXY/HTTPS_PROXY) to declared external hosts (default off)
      --labels k=v[,k=v]      this gateway's labels; Gateways whose selector does not match
                              are not served (default: serve every Gateway)
      --drain-delay N         after SIGTERM, keep accepting connections this many seconds
                              (readiness is 503 and every answer closes its connection) so a
                              load balancer's health check notices first (default 0)
      --drain-seconds N       then how long requests in flight and tunnels may run before they
                              are cut (default 25)
      --stand-ins             also start a stand-in web server on every loopback endpoint the
                              config declares (demos; 'npm start' uses it)
  -h, --help                  this help

Port 0 picks a free port; the log says which. Config files are watched: an edit is applied
when it settles (an invalid one is refused in the log; the last good config keeps serving).
SIGHUP reloads too; SIGTERM drains and stops.
`;

export const VALIDATE_HELP = `Usage: meshgate validate [-c PATH]...

Check config files without serving them, as strictly as Istio's API server and admission
webhook, with the cross-object checks of istioctl analyze. Prints one line per problem:
  FILE:LINE:COL: error|warning: KIND NAMESPACE/NAME: FIELD: what is wrong [ISTxxxx]
An object with errors is left out; the others are still checked, together.
Exit 0 when valid (warnings allowed), 1 when there are errors, 2 on a usage mistake.

Options:
  -c, --config PATH           file or directory, repeatable (default ./gateways)
      --default-namespace NS  namespace of objects without one (default default)
      --labels k=v[,k=v]      check as the gateway with these labels would serve
      --tls-dir DIR           where credentialName certificates are looked up (default ./tls)
  -q, --quiet                 print only errors and warnings, not skipped kinds
  -o, --output text|json      json: one object per problem (level, code, file, line, column,
                              object, field, message, documentation) for CI annotations
      --fail-on error|warning warning: warnings fail too (exit 1) (default error)
  -h, --help                  this help
`;

export const ROUTES_HELP = `Usage: meshgate routes [-c PATH]...

Print the effective route table: for each listener and host, the routes in the order they
are tried, what they match, where they send traffic, and the VirtualService they come from.

Options:
  -c, --config PATH           file or directory, repeatable (default ./gateways)
      --default-namespace NS  namespace of objects without one (default default)
      --labels k=v[,k=v]      show what the gateway with these labels serves
      --tls-dir DIR           where credentialName certificates are looked up (default ./tls)
  -h, --help                  this help
`;

export const GET_HELP = `Usage: meshgate get KIND [-n NS | -A] [-c PATH]...

List objects with the columns 'kubectl get' prints for them.
KIND: gateways (gw), virtualservices (vs), destinationrules (dr), serviceentries (se);
singular forms and KIND.networking.istio.io are accepted too.

Options:
  -n, --namespace NS          only this namespace (default: --default-namespace)
  -A, --all-namespaces        every namespace, with a NAMESPACE column
  -c, --config PATH           file or directory, repeatable (default ./gateways)
      --default-namespace NS  namespace of objects without one (default default)
  -h, --help                  this help
`;

export const CERTS_HELP = `Usage: meshgate certs --out DIR --hosts H1,H2 [--name CREDENTIAL] [--client NAME]

Make development certificates, signed by a local CA, in the form the gateway reads
credentialName secrets from (meshgate serve --tls-dir DIR):
  DIR/ca.crt, DIR/ca.key                     the CA; made once, then reused, so every certificate
                                             made into DIR chains to it (trust it: curl --cacert DIR/ca.crt)
  DIR/NAME.crt, DIR/NAME.key, DIR/NAME.ca.crt
                                             the server credential; NAME.ca.crt is the CA, which a
                                             MUTUAL server checks client certificates against
  DIR/CLIENT.crt, DIR/CLIENT.key             with --client: a client certificate for mutual TLS
An existing credential is left as it is (exit 0) unless --force is given. Keys are mode 0600.
Not for production: anyone holding ca.key can impersonate any host to whoever trusts ca.crt.

Options:
      --out DIR               where to write (required; the gateway's default --tls-dir is ./tls)
      --hosts H1,H2           names and IP addresses the server certificate is for; *.example.com
                              covers one level of subdomains (required unless --client is given)
      --name CREDENTIAL       the credentialName (default: the first host, * written as wildcard)
      --client NAME           also make a client certificate with CN=NAME
      --days N                validity of the server and client certificates (default 825, the
                              most Apple platforms accept); the CA is valid for 10 years
      --force                 replace existing credentials (the CA is kept while it is usable)
  -h, --help                  this help

Example:
  meshgate certs --out tls --hosts mynginx.example.com --client client
  curl --cacert tls/ca.crt --resolve mynginx.example.com:8443:127.0.0.1 https://mynginx.example.com:8443/
`;

export const EXPLAIN_HELP = `Usage: meshgate explain URL [--method M] [--header k=v]... [--sni NAME] [--listener PORT] [-c PATH]...

Walk the config as a request would (Gateway port, filter chain by SNI, virtual host, route) and
say where it goes, or the step at which it falls out and why: no server on that port, no server
for that SNI, no VirtualService bound there for that host (and where the host is served instead),
or, route by route, the match condition that failed. Exit 0 when routed, 1 when not.
The admin port answers the same on the live config: GET /explain?url=URL&method=M&header=k=v.

Options:
  -c, --config PATH           file or directory, repeatable (default ./gateways)
      --method M              request method (default GET)
      --header k=v            a request header, repeatable
      --sni NAME              SNI for https URLs (default: the URL's host)
      --listener PORT         the Gateway port it arrives on (default: the URL's port, else 80/443)
      --default-namespace NS  namespace of objects without one (default default)
      --labels k=v[,k=v]      explain as the gateway with these labels would serve
      --tls-dir DIR           where credentialName certificates are looked up (default ./tls)
  -h, --help                  this help

Example:
  meshgate explain http://mynginx.example.com/index.html
`;
