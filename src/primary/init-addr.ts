/**
 * HAProxy's `init-addr`: before any worker starts (at start, on reload, and for `tslb -c`),
 * every server whose address is a name (`resolvers`, `init-addr`, `server-template`) gets
 * one by trying its methods in order: `last` (the address the running tslb has for it,
 * on a reload), `libc` (the system's resolver, once), `none` (no address: the server is
 * in maintenance until DNS gives it one) or a fixed IP. When none works the config is
 * refused, as HAProxy does with "could not resolve address".
 */
import { promises as dns, type LookupAddress } from 'node:dns';
import type { Model, Server, ServerDns } from '../config/model';
import { isSrvLabel } from '../config/resolvers';
import type { ConfigIssue } from '../config/source';

/** The address and port the running process has for a server resolving `fqdn`, if any. */
export type LastAddress = (backend: string, server: string, fqdn: string) => { address: string; port: number } | undefined;

type Lookup = (name: string) => Promise<LookupAddress[]>;

const systemLookup: Lookup = (name) => dns.lookup(name, { all: true });

/**
 * Gives each name-addressed server of `model` its first address (in place: `address`
 * becomes an IP, or '' for none). Returns HAProxy's alerts (errors) and notices (warnings).
 */
export async function applyInitAddr(model: Model, last?: LastAddress, lookup: Lookup = systemLookup): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  // One system lookup per name, however many servers share it.
  const lookups = new Map<string, Promise<LookupAddress[] | undefined>>();
  const lookupOnce = (name: string) => {
    let p = lookups.get(name);
    if (!p) lookups.set(name, (p = lookup(name).catch(() => undefined)));
    return p;
  };
  const jobs: Promise<void>[] = [];
  for (const b of model.backends) {
    for (const s of b.servers) {
      const d = s.dns;
      if (d) jobs.push(initServer(b.name, s, d, last, lookupOnce, issues));
    }
  }
  await Promise.all(jobs);
  return issues;
}

async function initServer(
  backend: string,
  s: Server,
  d: ServerDns,
  last: LastAddress | undefined,
  lookup: (name: string) => Promise<LookupAddress[] | undefined>,
  issues: ConfigIssue[],
): Promise<void> {
  let failed = false;
  const issue = (message: string, severity: ConfigIssue['severity']) =>
    issues.push({ file: s.source?.file ?? '', line: s.source?.line ?? 0, column: s.source?.column ?? 0, path: s.source?.path ?? '', message, severity });
  for (const method of d.initAddr) {
    if (method === 'last') {
      const previous = last?.(backend, s.name, d.fqdn);
      if (!previous || previous.address === '') continue;
      s.address = previous.address;
      // An SRV record gave the port.
      if (isSrvLabel(d.fqdn)) s.port = previous.port;
      return;
    }
    if (method === 'libc') {
      // An SRV label has no address of its own: only its records' targets do.
      if (isSrvLabel(d.fqdn)) continue;
      const found = await lookup(d.fqdn);
      const preferred = found?.find((a) => a.family === (d.prefer === 'ipv4' ? 4 : 6)) ?? found?.[0];
      if (preferred) {
        s.address = preferred.address;
        return;
      }
      failed = true;
      continue;
    }
    if (method === 'none') {
      s.address = '';
      if (failed) issue(`could not resolve address '${d.fqdn}', disabling server.`, 'warning');
      return;
    }
    s.address = method;
    if (failed) issue(`could not resolve address '${d.fqdn}', falling back to configured address.`, 'warning');
    return;
  }
  issue(failed ? `could not resolve address '${d.fqdn}'.` : `no method found to resolve address '${d.fqdn}'.`, 'error');
}
