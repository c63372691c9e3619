/**
 * The demo network, as data: which documented host answers how on which port, how its name is found, and the
 * problems the default network has. Pure functions of their inputs; servers.ts starts what this describes.
 *
 * Ports under 1024 need root to listen on, so the demo runs the built-in rule sets with every port moved up by
 * DEMO_PORT_OFFSET (20443 stands for 443, 25223 for 5223). Host names, purposes and the vendors' impact texts
 * stay as they are, so the report reads like a real one.
 */
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { checkOf } from '../probes/index.js';
import { parseUrl } from '../rules/urls.js';
import type { CheckKind, RuleSet, Target } from '../types.js';

/** Demo port = vendor port + this. Keeps the last digits readable and stays below Linux's ephemeral ports. */
export const DEMO_PORT_OFFSET = 20000;

/** Probe timeout of the demo unless --timeout says otherwise: the silent host costs this much, once. */
export const DEMO_TIMEOUT_MS = 1500;

/** How a host answers on a port. */
export type Behaviour =
  /** TLS with a certificate of the demo CA (plain TCP for tcp checks); HTTP answered for http checks. */
  | 'ok'
  /** Nothing listens: the connection is refused, as a firewall that rejects. */
  | 'closed'
  /** Accepts the connection and never answers the ClientHello. */
  | 'silent'
  /** A certificate from a CA the run does not trust: TLS interception. */
  | 'untrusted'
  /** A certificate of the demo CA that expired 30 days ago. */
  | 'expired';

/** How a host's name is found. */
export type Naming =
  /** --resolve host=address, as every host of a clean network. */
  | 'pinned'
  /** The demo's DNS server says the name does not exist. */
  | 'nxdomain'
  /** The demo's DNS server answers with the host's loopback address: outside the rule's CIDR. */
  | 'sinkhole';

/** One thing wrong with the default network. `hosts` and `ports` narrow it (absent: every host / port). */
export interface Problem {
  /** What an admin would be told about this network, one line. */
  story: string;
  hosts?: string[];
  /** Vendor ports (before DEMO_PORT_OFFSET). */
  ports?: number[];
  behaviour?: Exclude<Behaviour, 'ok'>;
  naming?: Exclude<Naming, 'pinned'>;
}

/** The default network: the problems admins meet, each shown by the built-in rule sets. */
export const PROBLEMS: readonly Problem[] = [
  {
    story: 'the firewall rejects TCP 5223 (APNs), 5228-5230 (FCM) and 2195/2196; devices fall back to 443',
    ports: [5223, 5228, 5229, 5230, 2195, 2196],
    behaviour: 'closed',
  },
  {
    story: 'a TLS inspection proxy answers api.push.apple.com on 443 with a certificate of its own CA',
    hosts: ['api.push.apple.com'],
    ports: [443],
    behaviour: 'untrusted',
  },
  {
    story: 'an appliance with an expired certificate answers fcm.googleapis.com on 443',
    hosts: ['fcm.googleapis.com'],
    ports: [443],
    behaviour: 'expired',
  },
  {
    story: 'a filter accepts connections to mokirouter.appspot.com and never answers',
    hosts: ['mokirouter.appspot.com'],
    behaviour: 'silent',
  },
  {
    story: 'the DNS filter says networkcheck.mokimobility.com does not exist',
    hosts: ['networkcheck.mokimobility.com'],
    naming: 'nxdomain',
  },
  {
    story: "the DNS filter answers api.sandbox.push.apple.com itself, with an address outside Apple's 17.0.0.0/8",
    hosts: ['api.sandbox.push.apple.com'],
    naming: 'sinkhole',
  },
];

/**
 * The message file of the ibi-aws rule set lives on the admin's own server; the demo serves one. Its write path is
 * a file path in this machine's temporary folder: the write check creates and removes a temporary file there.
 */
export const DEMO_VARS: Readonly<Record<string, string>> = {
  messageUrl: `https://intranet.example:${443 + DEMO_PORT_OFFSET}/ibi/messages.ibi`,
  messageWriteUrl: path.join(os.tmpdir(), 'messages.ibi'),
};

/** What the demo's web servers answer, by host and path (any other path: 404). */
export interface HttpReply {
  status: number;
  contentType: string;
  body: string;
}

export const HTTP_REPLIES: Readonly<Record<string, Readonly<Record<string, HttpReply>>>> = {
  'mobileservice.ibi-aws.net': {
    '/': { status: 200, contentType: 'text/html; charset=utf-8', body: '<h1>IBI-aws Webservice</h1>\n' },
  },
  'intranet.example': {
    '/ibi/messages.ibi': {
      status: 200,
      contentType: 'text/xml',
      body: '<?xml version="1.0" encoding="utf-8"?>\n<messages><message id="1">pushcheck demo</message></messages>\n',
    },
  },
};

export function demoPort(port: number): number {
  const moved = port + DEMO_PORT_OFFSET;
  if (moved > 65535) throw new Error(`port ${port} cannot be moved to the demo's range (+${DEMO_PORT_OFFSET})`);
  return moved;
}

export function vendorPort(port: number): number {
  return port >= DEMO_PORT_OFFSET ? port - DEMO_PORT_OFFSET : port;
}

/**
 * A concrete url with its port moved; a `${var}` template stays (the demo's vars carry demo ports already), and so
 * does a url of a kind that reads its own (a file path).
 */
function demoUrl(url: string): string {
  const target = url.includes('${') ? undefined : parseUrl(url);
  if (!target) return url;
  const parsed = new URL(url);
  parsed.port = String(demoPort(target.port));
  return parsed.href;
}

/** A built-in rule set as the demo runs it: every port moved by DEMO_PORT_OFFSET, a note saying so. */
export function demoRuleSet(set: RuleSet): RuleSet {
  const move = (ports: number[]): number[] => ports.map(demoPort);
  return {
    ...set,
    builtin: false,
    file: `demo:${set.id}`,
    notes: [
      ...set.notes,
      `pushcheck demo: a simulated network on loopback; every port is the vendor's plus ${DEMO_PORT_OFFSET} (${443 + DEMO_PORT_OFFSET} stands for 443).`,
    ],
    rules: set.rules.map((rule) => ({
      ...rule,
      ports: move(rule.ports),
      plainPorts: move(rule.plainPorts),
      ...(rule.legacy && { legacy: { ...rule.legacy, ports: move(rule.legacy.ports) } }),
      ...(rule.fallback && { fallback: { ...rule.fallback, ports: move(rule.fallback.ports), for: move(rule.fallback.for) } }),
      ...(rule.url !== undefined && { url: demoUrl(rule.url) }),
    })),
  };
}

function applies(problem: Problem, host: string, port?: number): boolean {
  return (
    (problem.hosts === undefined || problem.hosts.includes(host)) &&
    (port === undefined || problem.ports === undefined || problem.ports.includes(port))
  );
}

/** The problems of the default network that the targets meet (a rule set without Apple hosts meets no Apple problem). */
export function problemsMet(targets: Target[]): Problem[] {
  const probed = targets.filter((t) => t.skipReason === undefined);
  return PROBLEMS.filter((problem) =>
    probed.some((t) => applies(problem, t.host.toLowerCase(), problem.naming ? undefined : vendorPort(t.port))),
  );
}

/** How `host` answers on vendor port `port` in the default (clean: false) or clean network. */
export function behaviourOf(host: string, port: number, clean: boolean): Behaviour {
  if (clean) return 'ok';
  return PROBLEMS.find((p) => p.behaviour && applies(p, host.toLowerCase(), port))?.behaviour ?? 'ok';
}

export function namingOf(host: string, clean: boolean): Naming {
  if (clean) return 'pinned';
  return PROBLEMS.find((p) => p.naming && applies(p, host.toLowerCase()))?.naming ?? 'pinned';
}

/** What one (host, port) of an endpoint does. */
export interface HostService {
  host: string;
  behaviour: Behaviour;
  /** Some target speaks TLS to it (its check's `speaks`, from the probe registry). */
  tls: boolean;
  /** The checks of its targets, in order of first use: each one's answer (probe registry) is what is served. */
  checks: CheckKind[];
}

/** One listening address and port, serving one host (or several by SNI, on a machine with 127.0.0.1 only). */
export interface EndpointPlan {
  address: string;
  port: number;
  services: HostService[];
}

export interface NetworkPlan {
  /** host → loopback address. */
  addresses: Map<string, string>;
  /** `host=address` for --resolve. */
  pins: string[];
  /** Where the demo's DNS server listens. */
  dnsAddress: string;
  /** What the demo's DNS server answers (A records); any other name: NXDOMAIN. */
  dnsAnswers: Map<string, string[]>;
  /** Endpoints with a listener. */
  listening: EndpointPlan[];
  /** Endpoints where nothing listens. */
  closed: EndpointPlan[];
}

/** Where the demo's hosts and its DNS server live. */
export interface AddressPlan {
  /** Address of the i-th host, hosts sorted by name. */
  host(index: number): string;
  dns: string;
  /** Every host on one address: listeners tell the hosts apart by SNI. */
  shared: boolean;
}

/** Second octet of the first per-host block; a block in use (another demo running) moves to the next. */
export const FIRST_BLOCK = 77;

/**
 * An address per host in 127.<block>.0.0/16: 127.77.0.2, 127.77.0.3, …, the DNS server on 127.77.255.53.
 * Linux routes all of 127.0.0.0/8 to lo, so these need no setup.
 */
export function perHostAddresses(block = FIRST_BLOCK): AddressPlan {
  return {
    host: (index) => `127.${block}.${Math.floor(index / 250)}.${(index % 250) + 2}`,
    dns: `127.${block}.255.53`,
    shared: false,
  };
}

/** Every host and the DNS server on one address, for systems with 127.0.0.1 only (macOS). */
export function oneAddress(address = '127.0.0.1'): AddressPlan {
  return { host: () => address, dns: address, shared: true };
}

/** The network the targets meet: addresses, pins, DNS answers, and what listens where. */
export function planNetwork(targets: Target[], options: { clean: boolean; addresses: AddressPlan }): NetworkPlan {
  const { clean } = options;
  const probed = targets.filter((t) => t.skipReason === undefined);
  const hosts = [...new Set(probed.map((t) => t.host.toLowerCase()))].sort();
  for (const host of hosts) {
    // An address would be connected to for real: the demo network has names only.
    if (net.isIP(host) !== 0) throw new Error(`the demo network cannot stand in for the address ${host}`);
  }
  const addresses = new Map(hosts.map((host, i) => [host, options.addresses.host(i)]));
  const pins: string[] = [];
  const dnsAnswers = new Map<string, string[]>();
  for (const [host, address] of addresses) {
    const naming = namingOf(host, clean);
    if (naming === 'pinned') pins.push(`${host}=${address}`);
    else if (naming === 'sinkhole') dnsAnswers.set(host, [address]);
  }

  const endpoints = new Map<string, EndpointPlan>();
  for (const target of probed) {
    const host = target.host.toLowerCase();
    const address = addresses.get(host) as string;
    const key = `${address}:${target.port}`;
    let endpoint = endpoints.get(key);
    if (!endpoint) {
      endpoint = { address, port: target.port, services: [] };
      endpoints.set(key, endpoint);
    }
    let service = endpoint.services.find((s) => s.host === host);
    if (!service) {
      service = { host, behaviour: behaviourOf(host, vendorPort(target.port), clean), tls: false, checks: [] };
      endpoint.services.push(service);
    }
    service.tls ||= checkOf(target.check).speaks.tls;
    if (!service.checks.includes(target.check)) service.checks.push(target.check);
  }

  const listening: EndpointPlan[] = [];
  const closed: EndpointPlan[] = [];
  for (const endpoint of endpoints.values()) {
    const closedHosts = endpoint.services.filter((s) => s.behaviour === 'closed');
    if (closedHosts.length === endpoint.services.length) closed.push(endpoint);
    else if (closedHosts.length === 0) listening.push(endpoint);
    else {
      // Only possible with one shared address: a port cannot be closed for one name and open for another.
      throw new Error(`demo network: ${endpoint.address}:${endpoint.port} would have to be closed and open at once`);
    }
  }
  return { addresses, pins, dnsAddress: options.addresses.dns, dnsAnswers, listening, closed };
}
