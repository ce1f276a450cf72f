/** Talking to tslb's runtime API from tests, as an operator would: socat on the unix socket, or TCP. */
import { execFile, spawnSync } from 'node:child_process';
import * as net from 'node:net';

export const hasSocat = spawnSync('socat', ['-V']).status === 0;

/** `echo <input> | socat stdio <sock>`: resolves with everything the API answered. */
export function socat(sock: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('socat', ['stdio', sock], { timeout: 5000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin!.end(input);
  });
}

/** Sends lines over TCP and collects everything until the server closes. */
export function tcpCommand(port: number, input: string): Promise<string> {
  return apiCommand({ port, host: '127.0.0.1' }, input);
}

/** Sends lines over the unix socket (no socat needed) and collects everything until the server closes. */
export function unixCommand(path: string, input: string): Promise<string> {
  return apiCommand({ path }, input);
}

function apiCommand(target: net.NetConnectOpts, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(target, () => s.end(input));
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
  });
}

/** `show stat` as rows by `pxname/svname` (`web/FRONTEND`, `app/s1`), each a column → value record. */
export async function showStat(sock: string): Promise<Map<string, Record<string, string>>> {
  const [head, ...lines] = (await unixCommand(sock, 'show stat\n')).trim().split('\n');
  const cols = head.replace(/^# /, '').split(',');
  const rows = new Map<string, Record<string, string>>();
  for (const line of lines) {
    const c = line.split(',');
    rows.set(`${c[0]}/${c[1]}`, Object.fromEntries(cols.map((name, i) => [name, c[i] ?? ''])));
  }
  return rows;
}

/** `show stat` once `ready` accepts it (the workers push counters and checks run on their own time), or after about 10 s. */
export async function showStatWhen(sock: string, ready: (rows: Map<string, Record<string, string>>) => boolean): Promise<Map<string, Record<string, string>>> {
  let rows = await showStat(sock);
  for (let i = 0; i < 50 && !ready(rows); i++) {
    await new Promise((r) => setTimeout(r, 200));
    rows = await showStat(sock);
  }
  return rows;
}
