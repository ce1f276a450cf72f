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
