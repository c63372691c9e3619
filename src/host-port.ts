/** `host:port`, with an IPv6 literal in brackets; a credential file (port 0) is its path alone. Shared by the findings and every report format. */
export function hostPort(host: string, port: number): string {
  if (port === 0) return host;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
