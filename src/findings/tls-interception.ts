/**
 * tls_interception: vendor hosts answer with a certificate from an issuer this machine does not trust. A public
 * vendor host never does; an inspection proxy re-signing the traffic does. One finding per issuer, naming the
 * hosts to exempt; the more hosts share the issuer, the plainer the evidence (the summary says how many).
 */
import { groupBy, listText, plural, policyNames, unique, type CauseDetector } from './evidence.js';

export const tlsInterception: CauseDetector = {
  cause: 'tls_interception',
  detect(open) {
    const untrusted = open.filter((r) => r.error?.code === 'tls_untrusted' && r.tls?.issuer);
    return [...groupBy(untrusted, (r) => r.tls!.issuer)].map(([issuer, results]) => {
      const hosts = unique(results.map((r) => r.host.toLowerCase()));
      return {
        subject: issuer,
        summary:
          `A TLS inspection proxy intercepts connections to ${plural(hosts.length, 'vendor host')} ` +
          `(${listText(hosts, 4)}): the certificates are issued by "${issuer}", not by the vendor's CA, ` +
          'and devices reject them.',
        action: `Exempt from TLS inspection: ${listText(policyNames(results))}.`,
        explains: results,
      };
    });
  },
};
