/**
 * Starts the demo network a NetworkPlan describes: one listener per loopback address and port (TLS with a
 * certificate chosen by SNI, or plain TCP) that answers as the probe registry says each check is answered
 * (web pages for http checks, APNs's HTTP/2 error, a CONNACK), and the DNS server. Certificates come
 * from the harness's CA helper, listeners go through the harness's `listen` (loopback only, every socket closed
 * on close()). Nothing else is started: no child process, no timer that outlives close().
 */
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { createCertificateAuthority, type CertificateAuthority, type CertificatePem } from '../harness/certs.js';
import { listen, type Endpoint } from '../harness/endpoints.js';
import { checkNames, checkOf } from '../probes/index.js';
import type { ServerAnswer, StandInSite } from '../probes/types.js';
import type { CheckKind, Target } from '../types.js';
import { startDnsServer, type LoopbackDnsServer } from './dns-server.js';
import {
  FIRST_BLOCK,
  HTTP_REPLIES,
  oneAddress,
  perHostAddresses,
  planNetwork,
  type AddressPlan,
  type Behaviour,
  type EndpointPlan,
  type HostService,
  type NetworkPlan,
} from './network.js';

export interface DemoServers {
  dns: LoopbackDnsServer;
  /** The demo CA's certificate, PEM: what the run trusts with --ca. */
  caPem: string;
  /** Endpoints meant to be closed where something else on this machine listens (a wildcard listener). */
  occupied: string[];
  /** Closes every listener, every connection, and the DNS server. Safe to call twice. */
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;
const ignore = (): void => undefined;

/** How many per-host blocks (127.77, 127.78, …) are tried when another demo holds the first. */
const BLOCKS_TRIED = 20;

/**
 * Whether the 127.77.x.x addresses work here (Linux routes all of 127.0.0.0/8 to lo; macOS has 127.0.0.1 only).
 * Found by binding the DNS server's address.
 */
export async function loopbackAliasesWork(): Promise<boolean> {
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: perHostAddresses().dns, port: 0 }, resolve);
    });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') return false;
    throw err;
  } finally {
    await new Promise<void>((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve(); // never bound
      }
    });
  }
}

/** Certificates by host and behaviour, made once each. */
class Certificates {
  #made = new Map<string, Promise<CertificatePem>>();
  #interceptor: Promise<CertificateAuthority> | undefined;
  constructor(readonly ca: CertificateAuthority) {}

  get(host: string, behaviour: Behaviour): Promise<CertificatePem> {
    const kind = behaviour === 'untrusted' || behaviour === 'expired' ? behaviour : 'ok';
    const key = `${kind} ${host}`;
    let cert = this.#made.get(key);
    if (!cert) {
      cert = this.#issue(host, kind);
      this.#made.set(key, cert);
    }
    return cert;
  }

  async #issue(host: string, kind: 'ok' | 'untrusted' | 'expired'): Promise<CertificatePem> {
    if (kind === 'untrusted') {
      this.#interceptor ??= createCertificateAuthority('Corporate TLS Inspection CA');
      return (await this.#interceptor).issue({ names: [host] });
    }
    if (kind === 'expired') {
      return this.ca.issue({ names: [host], notBefore: new Date(Date.now() - 395 * DAY_MS), notAfter: new Date(Date.now() - 30 * DAY_MS) });
    }
    return this.ca.issue({ names: [host] });
  }
}

/** Answers the demo's web requests from HTTP_REPLIES, by Host header and path. */
function webServer(): http.Server {
  return http.createServer((req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const path = new URL(req.url ?? '/', 'http://demo').pathname;
    const reply = HTTP_REPLIES[host]?.[path] ?? { status: 404, contentType: 'text/plain', body: 'not found\n' };
    res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': Buffer.byteLength(reply.body) });
    res.end(req.method === 'HEAD' ? undefined : reply.body);
  });
}

/** What every registered answer speaks over TLS, in registry order: the listeners offer it, and their order wins. */
const ALPN_PROTOCOLS = [...new Set(checkNames.flatMap((name) => checkOf(name).answer?.alpn?.protocol ?? []))];

/**
 * The probe registry's answer for a connection to a host with these checks: the one whose ALPN protocol was
 * negotiated, else one that speaks no ALPN protocol (MQTT), else one that does not insist on its own (HTTP/1.1).
 * Checks without an answer (tcp, tls) ask for the connection only.
 */
function answerFor(checks: readonly CheckKind[], negotiated: string | false | null): ServerAnswer | undefined {
  const answers = checks.flatMap((name) => checkOf(name).answer ?? []);
  return (
    (negotiated && answers.find((answer) => answer.alpn?.protocol === negotiated)) ||
    answers.find((answer) => answer.alpn === undefined) ||
    answers.find((answer) => !answer.alpn?.required)
  );
}

/** Serves one accepted connection (after TLS, when the listener speaks it) as the host's checks ask. */
function serve(socket: net.Socket, answer: ServerAnswer | undefined, site: StandInSite): void {
  socket.on('error', ignore);
  if (answer) return answer.serve(socket, site);
  socket.resume();
  socket.on('end', () => socket.end());
}

async function startEndpoint(plan: EndpointPlan, certs: Certificates, site: StandInSite): Promise<Endpoint> {
  const name = `${plan.address}:${plan.port}`;
  const tlsServices = plan.services.filter((s) => s.tls);
  if (tlsServices.length === 0) {
    // tcp checks, and ports a rule probes without TLS (plainPorts). No SNI tells the hosts apart: one answer for all.
    const answer = answerFor(plan.services.flatMap((s) => s.checks), false);
    return listen(net.createServer((socket) => serve(socket, answer, site)), plan.address, plan.port, name);
  }
  const byHost = new Map<string, { service: HostService; context?: tls.SecureContext }>();
  for (const service of tlsServices) {
    const context = service.behaviour === 'silent' ? undefined : tls.createSecureContext(await certs.get(service.host, service.behaviour));
    byHost.set(service.host, { service, ...(context && { context }) });
  }
  // Used only by a client that sends no SNI; every probe sends it.
  const fallback = await certs.get(tlsServices[0]!.host, 'ok');
  const server = tls.createServer({
    ALPNProtocols: ALPN_PROTOCOLS,
    cert: fallback.cert,
    key: fallback.key,
    SNICallback: (servername, callback) => {
      const entry = byHost.get(servername.toLowerCase());
      // A silent host has read the ClientHello and never answers it.
      if (entry?.service.behaviour === 'silent') return;
      callback(null, entry?.context);
    },
  });
  server.on('tlsClientError', ignore);
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const servername = typeof socket.servername === 'string' ? socket.servername.toLowerCase() : '';
    const checks = byHost.get(servername)?.service.checks ?? [];
    serve(socket, answerFor(checks, socket.alpnProtocol), site);
  });
  return listen(server, plan.address, plan.port, name);
}

/** Whether something accepts connections on `address:port` (answered within 300 ms). */
function answers(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const done = (open: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(open);
    };
    const timer = setTimeout(() => done(false), 300);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Starts what `plan` describes. On failure, closes what it started and rethrows. */
export async function startDemoServers(plan: NetworkPlan): Promise<DemoServers> {
  const endpoints: Endpoint[] = [];
  const web = webServer();
  const site: StandInSite = { web: (socket) => web.emit('connection', socket) };
  let dns: LoopbackDnsServer | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await Promise.all([...endpoints.map((e) => e.close()), dns?.close()]);
      web.closeAllConnections();
    })());
  try {
    const ca = await createCertificateAuthority('pushcheck demo CA');
    const certs = new Certificates(ca);
    const records = Object.fromEntries([...plan.dnsAnswers].map(([name, addresses]) => [name, { A: addresses }]));
    dns = await startDnsServer({ host: plan.dnsAddress, records });
    for (const endpoint of plan.listening) endpoints.push(await startEndpoint(endpoint, certs, site));
    const checks = await Promise.all(plan.closed.map(async (e) => ((await answers(e.address, e.port)) ? `${e.address}:${e.port}` : '')));
    return { dns, caPem: ca.cert, occupied: checks.filter(Boolean), close };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface DemoNetwork {
  plan: NetworkPlan;
  servers: DemoServers;
  addresses: AddressPlan;
}

/**
 * Plans and starts the demo network for `targets`: an address per host where the system has 127.77.x.x (the next
 * block, 127.78.x.x and so on, when another demo holds one), else every host on 127.0.0.1.
 */
export async function startDemoNetwork(targets: Target[], options: { clean: boolean }): Promise<DemoNetwork> {
  if (!(await loopbackAliasesWork())) {
    const addresses = oneAddress();
    const plan = planNetwork(targets, { clean: options.clean, addresses });
    return { plan, servers: await startDemoServers(plan), addresses };
  }
  for (let block = FIRST_BLOCK; ; block += 1) {
    const addresses = perHostAddresses(block);
    const plan = planNetwork(targets, { clean: options.clean, addresses });
    try {
      return { plan, servers: await startDemoServers(plan), addresses };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || block >= FIRST_BLOCK + BLOCKS_TRIED - 1) throw err;
    }
  }
}
