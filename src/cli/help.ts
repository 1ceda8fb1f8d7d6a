export const MAIN_HELP = `meshgate: an Istio-compatible ingress/egress gateway. Same YAML, same answers as Envoy.

Usage: meshgate <command> [options]

Commands:
  serve      run the gateway on the config in ./gateways (or -c PATH)
  validate   check config files; exit 1 and one line per problem when invalid
  routes     print the effective route table
  get        list Istio objects the way kubectl get does (gateways, virtualservices, ...)

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
      --admin-port N          loopback-only /config_dump and /routes (default 15000)
      --tls-dir DIR           where credentialName secrets are looked up (default ./tls)
      --default-namespace NS  namespace of objects without metadata.namespace (default default)
      --workers N             worker processes (default: number of cores)
      --log-format text|json  log format (default text)
      --mesh-listen [HOST:]PORT
                              serve VirtualServices bound to 'mesh' here (default off)
      --labels k=v[,k=v]      this gateway's labels; Gateways whose selector does not match
                              are not served (default: serve every Gateway)
      --stand-ins             also start a stand-in web server on every loopback endpoint the
                              config declares (demos; 'npm start' uses it)
  -h, --help                  this help

Port 0 picks a free port; the log says which.
`;

export const VALIDATE_HELP = `Usage: meshgate validate [-c PATH]...

Check config files without serving them. Prints one line per problem:
  FILE:LINE:COL: error|warning: KIND NAMESPACE/NAME: FIELD: what is wrong
Exit 0 when valid (warnings allowed), 1 when there are errors, 2 on a usage mistake.

Options:
  -c, --config PATH           file or directory, repeatable (default ./gateways)
      --default-namespace NS  namespace of objects without one (default default)
      --labels k=v[,k=v]      check as the gateway with these labels would serve
  -q, --quiet                 print only errors and warnings, not skipped kinds
  -h, --help                  this help
`;

export const ROUTES_HELP = `Usage: meshgate routes [-c PATH]...

Print the effective route table: for each listener and host, the routes in the order they
are tried, what they match, where they send traffic, and the VirtualService they come from.

Options:
  -c, --config PATH           file or directory, repeatable (default ./gateways)
      --default-namespace NS  namespace of objects without one (default default)
      --labels k=v[,k=v]      show what the gateway with these labels serves
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
