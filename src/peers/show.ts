/**
 * `show peers [dict|-] [<section>]` in HAProxy's layout (peers.c peers_dump_head /
 * peers_dump_peer): a line per section, two lines per peer with its state and
 * counters, then the tables it shares. tslb adds `auth_err`, `tx_upd` and `rx_upd` to a peer's counters line, and
 * last_status AUTH when the shared secret did not match. Pointers are stable hashes
 * of the names (as `show table`'s entry ids).
 */
import { formatLogDate } from '../log/access';
import { entryId } from '../stick/commands';
import type { RemotePeer } from './link';
import type { PeersReplication } from './replication';
import { HEARTBEAT_MS, type PeerSection } from './section';
import { humanTime } from '../primary/stats-page';

export function showPeers(rep: PeersReplication | undefined, args: string[]): string {
  const words = args[0] === 'dict' || args[0] === '-' ? args.slice(1) : args;
  const sections = rep?.list() ?? [];
  const wanted = words[0];
  if (wanted !== undefined && !sections.some((s) => s.def.name === wanted)) return 'No such peers\n';
  const now = Date.now();
  let out = '';
  for (const s of sections) {
    if (wanted !== undefined && s.def.name !== wanted) continue;
    out += `0x${entryId('peers', s.def.name)}: [${formatLogDate(s.startedAt).slice(0, -4)}] id=${s.def.name} disabled=0 flags=0x0 resync_timeout=<NEVER> task_calls=0\n`;
    const { address, port } = s.def.listen;
    out += `  0x${entryId(s.def.name, s.def.local)}: id=${s.def.local}(local,inactive) addr=${address}:${port} app_state=RUNNING learn_state=NOTASSIGNED last_status=NONE last_hdshk=<NEVER>\n`;
    out += '        reconnect=<NEVER> heartbeat=<NEVER> confirm=0 tx_hbt=0 rx_hbt=0 no_hbt=0 new_conn=0 proto_err=0 coll=0\n        flags=0x0\n';
    for (const r of s.remotes) out += peerLines(s, r, now);
  }
  return out + (out ? '\n' : '');
}

function peerLines(s: PeerSection, r: RemotePeer, now: number): string {
  const active = r.active;
  const c = r.counters;
  let out = `  0x${entryId(s.def.name, r.name)}: id=${r.name}(remote,${active ? 'active' : 'inactive'}) addr=${r.address}:${r.port}`;
  out += ` app_state=${active ? 'RUNNING' : 'STOPPED'} learn_state=${r.learned ? 'FINISHED' : active ? 'PROCESSING' : 'NOTASSIGNED'}`;
  out += ` last_status=${r.status === 'NONE' && r.inStatus !== 'NONE' ? r.inStatus : r.status} last_hdshk=${r.lastHandshake ? humanTime(Math.floor((now - r.lastHandshake) / 1000)) : '<NEVER>'}\n`;
  out += `        reconnect=${r.reconnectAt ? (r.reconnectAt <= now ? '<PAST>' : humanTime(Math.floor((r.reconnectAt - now) / 1000))) : '<NEVER>'} heartbeat=${active ? humanTime(HEARTBEAT_MS / 1000) : '<NEVER>'}`;
  out += ` confirm=0 tx_hbt=${c.txHbt} rx_hbt=${c.rxHbt} no_hbt=${c.noHbt} new_conn=${c.newConn} proto_err=${c.protoErr} coll=0 auth_err=${c.authErr} tx_upd=${c.txUpd} rx_upd=${c.rxUpd}\n`;
  out += `        flags=0x0 in=${r.in ? 'ESTA' : r.inStatus} out=${r.status}\n`;
  const tables = s.sharedTables();
  if (active && tables.length) {
    out += '        shared tables:\n';
    for (const t of tables) out += `          0x${entryId(`${s.def.name}/${r.name}`, t.def.name)} local_id=1 remote_id=1 flags=0x0\n            table:0x${entryId('table', t.def.name)} id=${t.def.name} size=${t.def.size} used=${t.size}\n`;
  }
  return out;
}
