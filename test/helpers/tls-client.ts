/** TLS clients for tests: a connection that resolves after its handshake, and keep-alive requests on it. */
import * as tls from 'node:tls';

/** A TLS connection to 127.0.0.1:`port`, resolved once the handshake is done (5 s at most). */
export function tlsConnect(port: number, opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, ...opts }, () => resolve(sock));
    sock.once('error', reject);
    sock.setTimeout(5000, () => sock.destroy(new Error('TLS connection timed out')));
  });
}

/** One keep-alive GET on an open connection: the response head's status line, once the body is in. */
export function keepAliveGet(sock: tls.TLSSocket, path: string, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(got);
      if (end >= 0 && len && got.length >= end + 4 + Number(len[1])) {
        sock.off('data', onData);
        resolve(got.slice(0, got.indexOf('\r\n')));
      }
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.once('close', () => reject(new Error('connection closed before a response')));
    sock.write(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
  });
}
