/**
 * `peers` sections in the config (HAProxy configuration.txt 11.2): YAML keys or the
 * section's HAProxy lines (`peer <name> <addr>:<port>`, `server`, `bind`, `disabled`,
 * `enabled`), plus tslb's `secret <text>`. The member whose name is this node's
 * (`local`, global `localpeer`, else the host name, as HAProxy's localpeer) is the
 * address this node listens on; the others are dialled. The primary runs the
 * replication (src/peers/).
 */
import { hostname } from 'node:os';
import { splitWords } from './haproxy-syntax';
import type { PeersSection, PeersTls, StickTableDef } from './model';
import { checkBundle } from '../tls/pem';
import type { PeersInput } from './schema-sections';
import type { Diagnostics, Seg, Where } from './source';
import { didYouMean } from './suggest';
import { parseListen } from './services';

type Locate = (segs: Seg[]) => Where;
/** Reads a file named at `segs`, relative to its config file (undefined: an error was reported). */
type Read = (file: string, segs: Seg[]) => string | undefined;

/** TLS words of a section: from `bind … ssl crt`, `default-server ssl verify … ca-file …`, or the YAML `tls`. */
interface TlsWords {
  crt?: { file: string; segs: Seg[] };
  ca?: { file: string; segs: Seg[] };
  verify?: boolean;
}

/** `ssl`, `crt <f>` (bind only), `ca-file <f>`, `verify none|required` (default-server only); an error message or undefined. */
function tlsWords(words: string[], allowed: readonly string[], segs: Seg[], into: TlsWords): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (!allowed.includes(w)) return `unsupported parameter "${w}" (${allowed.join(', ')})`;
    if (w === 'ssl') continue;
    const arg = words[++i];
    if (arg === undefined) return `${w} needs an argument`;
    if (w === 'crt') into.crt = { file: arg, segs };
    else if (w === 'ca-file') into.ca = { file: arg, segs };
    else if (arg === 'none' || arg === 'required') into.verify = arg === 'required';
    else return `verify must be none or required, not "${arg}"`;
  }
  return undefined;
}

const LINE_KEYWORDS = ['peer', 'server', 'bind', 'default-server', 'disabled', 'enabled', 'secret'];
/** Keywords of HAProxy's peers sections tslb does not take, with why. */
const UNSUPPORTED: Record<string, string> = {
  table: 'declare the table on a frontend or backend with "stick-table … peers <section>"',
  'default-bind': 'put ssl and crt on the bind line',
  shards: 'every member receives every entry',
  log: 'peer events go to the primary\'s log',
};

interface Member {
  name: string;
  address?: string;
  port?: number;
  where: Where;
}

/** The sections; `localpeer` is global.localpeer. */
export function buildPeers(list: PeersInput[], localpeer: string | undefined, at: Locate, read: Read, diag: Diagnostics): PeersSection[] {
  const out: PeersSection[] = [];
  list.forEach((p, i) => {
    const base: Seg[] = ['peers', i];
    const members: Member[] = [];
    let bind: { address: string; port: number } | undefined;
    let disabled = false;
    let secret: string | undefined;
    const tls: TlsWords = {};
    (p.options ?? []).forEach((line, j) => {
      const where = at([...base, 'options', j]);
      const [kw, ...args] = splitWords(line);
      switch (kw) {
        case 'peer':
        case 'server': {
          const [name, addr, ...params] = args;
          if (name === undefined) return diag.error(where, `'${kw}' expects <name> and <addr>:<port> as arguments`);
          if (params.length) return diag.error(where, `${kw} ${name}: parameters "${params.join(' ')}" are not supported on a peer line (TLS goes on bind and default-server, for every peer)`);
          if (addr === undefined) {
            if (kw === 'peer') return diag.error(where, `'peer' expects <name> and <addr>:<port> as arguments`);
            members.push({ name, where });
            return;
          }
          const l = parseListen(addr);
          if (!l || l.address === '0.0.0.0') return diag.error(where, `${kw} ${name}: bad address "${addr}" (expected <ip>:<port>)`);
          members.push({ name, ...l, where });
          return;
        }
        case 'bind': {
          if (args.length === 0) return diag.error(where, `'bind' expects <addr>:<port> [ssl crt <pem>]`);
          bind = parseListen(args[0]);
          if (!bind) return diag.error(where, `bind: bad address "${args[0]}"`);
          const err = tlsWords(args.slice(1), ['ssl', 'crt'], [...base, 'options', j], tls);
          if (err) diag.error(where, `bind: ${err}`);
          return;
        }
        case 'default-server': {
          const err = tlsWords(args, ['ssl', 'verify', 'ca-file'], [...base, 'options', j], tls);
          if (err) diag.error(where, `default-server: ${err}`);
          return;
        }
        case 'disabled':
        case 'enabled':
          disabled = kw === 'disabled';
          return;
        case 'secret':
          if (args.length !== 1 || args[0].length < 16) return diag.error(where, "'secret' expects one word of 16 characters or more");
          secret = args[0];
          return;
        default:
          if (kw !== undefined && UNSUPPORTED[kw]) return diag.error(where, `'${kw}' is not supported in peers sections: ${UNSUPPORTED[kw]}`);
          diag.error(where, `unknown keyword '${kw ?? ''}' in 'peers' section${didYouMean(kw ?? '', LINE_KEYWORDS)}`);
      }
    });
    (p.members ?? []).forEach((m, j) => members.push({ name: m.name, address: m.address.replace(/^\[(.*)\]$/, '$1'), port: m.port, where: at([...base, 'members', j]) }));
    if (p.bind !== undefined) {
      bind = parseListen(p.bind);
      if (!bind) diag.error(at([...base, 'bind']), `bad address "${p.bind}"`);
    }
    if (p.secret !== undefined) secret = p.secret;
    if (p.tls) {
      tls.crt = { file: p.tls.certificate, segs: [...base, 'tls', 'certificate'] };
      if (p.tls.ca_file !== undefined) tls.ca = { file: p.tls.ca_file, segs: [...base, 'tls', 'ca_file'] };
      if (p.tls.verify !== undefined) tls.verify = p.tls.verify === 'required';
    }
    if (p.disabled !== undefined) disabled = p.disabled;

    const seen = new Set<string>();
    for (const m of members) {
      if (seen.has(m.name)) diag.error(m.where, `peers "${p.name}": peer "${m.name}" is declared twice`);
      seen.add(m.name);
    }
    const local = p.local ?? localpeer ?? hostname();
    const self = members.find((m) => m.name === local);
    const listen = bind ?? (self?.address !== undefined ? { address: self.address, port: self.port! } : undefined);
    if (!self || !listen) {
      const why = !self ? `no member is this node ("${local}", from ${p.local ? 'local' : localpeer ? 'global.localpeer' : 'the host name'})` : `this node's peer "${local}" has no address and the section no bind`;
      diag.warn(at(base), `peers "${p.name}": ${why}; its tables are not replicated (set local or global.localpeer, or add this node's peer line)`);
      disabled = true;
    }
    if (!secret && !disabled) diag.warn(at(base), `peers "${p.name}" has no secret: any host that reaches ${listen!.address}:${listen!.port} may write to its tables (as HAProxy's peers); set secret`);
    const remotes = members.filter((m) => m !== self && m.address !== undefined).map((m) => ({ name: m.name, address: m.address!, port: m.port! }));
    for (const m of members) if (m !== self && m.address === undefined) diag.error(m.where, `peers "${p.name}": remote peer "${m.name}" needs <addr>:<port>`);
    const linkTls = peersTls(tls, at, base, read, diag);
    out.push({ name: p.name, local, listen: listen ?? { address: '', port: 0 }, remotes, ...(secret ? { secret } : {}), ...(linkTls ? { tls: linkTls } : {}), disabled, source: diag.sourceRef(at(base)) });
  });
  return out;
}

/** The section's TLS: a certificate is needed (every member both accepts and dials), a CA file is read. */
function peersTls(words: TlsWords, at: Locate, base: Seg[], read: Read, diag: Diagnostics): PeersTls | undefined {
  if (!words.crt) {
    if (words.ca || words.verify !== undefined) diag.error(at(base), 'TLS on peer links needs this node\'s certificate: bind <addr> ssl crt <pem> (or tls.certificate)');
    return undefined;
  }
  const text = read(words.crt.file, words.crt.segs);
  if (text === undefined) return undefined;
  const bundle = checkBundle(text);
  if ('error' in bundle) {
    diag.error(at(words.crt.segs), `${words.crt.file}: ${bundle.error}`);
    return undefined;
  }
  const ca = words.ca ? read(words.ca.file, words.ca.segs) : undefined;
  return { cert: bundle.cert, key: bundle.key, ...(ca !== undefined ? { ca } : {}), verify: words.verify ?? true };
}

/**
 * The tables of each section: a `sync_all_tables` section takes every table without its
 * own `peers` word; a table naming no section is an error; a section no table names is a
 * warning (it would connect and replicate nothing).
 */
export function linkPeerTables(
  input: PeersInput[],
  sections: PeersSection[],
  proxies: Record<'frontends' | 'backends', { stickTable?: StickTableDef }[]>,
  at: Locate,
  diag: Diagnostics,
): void {
  const syncAll = input.filter((p) => p.sync_all_tables);
  if (syncAll.length > 1) diag.error(at(['peers']), `sync_all_tables is set on ${syncAll.map((p) => `"${p.name}"`).join(' and ')}: a table is replicated with one section`);
  const used = new Set<string>();
  for (const kind of ['frontends', 'backends'] as const) {
    proxies[kind].forEach((p, i) => {
      const def = p.stickTable;
      if (!def) return;
      if (def.peers === undefined && syncAll.length === 1) def.peers = syncAll[0].name;
      if (def.peers === undefined) return;
      used.add(def.peers);
      if (!sections.some((s) => s.name === def.peers)) diag.error(at([kind, i, 'stick_table']), `stick-table: no peers section named "${def.peers}"${didYouMean(def.peers, sections.map((s) => s.name))}`);
    });
  }
  sections.forEach((s, i) => {
    if (!used.has(s.name) && !s.disabled) diag.warn(at(['peers', i]), `peers "${s.name}" replicates no stick table: add "peers ${s.name}" to a stick-table (or sync_all_tables)`);
  });
}
