/**
 * An MDM server of the user's own, for the simulated iOS devices to check in with instead of the harness's
 * (`--mdm-url`). As in an enrollment profile, the ServerURL takes the command exchange and the CheckInURL the
 * check-in messages; without a CheckInURL the ServerURL takes both (Apple: "If not present, the device uses the
 * ServerURL for both").
 */

export interface OwnMdmServer {
  /** Where devices PUT Status Idle and their answers (application/x-apple-aspen-mdm). */
  serverUrl: string;
  /** Where devices PUT Authenticate, TokenUpdate and CheckOut (application/x-apple-aspen-mdm-checkin). */
  checkInUrl: string;
  /** Further CA certificates (PEM) the devices trust for it, beside the public roots and the harness's CA. */
  ca?: string[];
}

import { maskCredentials } from '../secrets.js';

/** The `code` of the error `parseMdmUrl` throws. */
export const BAD_MDM_URL = 'ERR_HARNESS_BAD_MDM_URL';

/**
 * A ServerURL or CheckInURL as given by a user, checked: http or https, a host, no user name or password (a device
 * authenticates with its identity certificate, never with credentials in the URL). Throws an error naming the
 * problem, with `code` BAD_MDM_URL.
 */
export function parseMdmUrl(text: string): URL {
  // The URL as typed, with anything before an @ masked: a password in it is never shown.
  const bad = (why: string): Error => Object.assign(new Error(`${maskCredentials(text)}: ${why}`), { code: BAD_MDM_URL });
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad('not a URL (expected https://host[:port]/path)');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad(`scheme ${url.protocol.slice(0, -1)} is not http or https`);
  if (url.hostname === '') throw bad('no host');
  if (url.username !== '' || url.password !== '') throw bad('user name or password in the URL (devices do not send credentials)');
  if (url.hash !== '') throw bad('a #fragment is never sent to a server');
  return url;
}
