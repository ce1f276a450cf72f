import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { TlsBindOptions } from '../src/config/model';
import { TlsTerminator } from '../src/worker/tls';
import { listenTracked } from './helpers/backends';
import { issueCert, testCa } from './helpers/certs';
import { server, startL4Proxy, tcpModel } from './helpers/l4-model';
import { tempDir } from './helpers/tslb';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const certA = issueCert(['a.example.test']);
const certWild = issueCert(['*.wild.example.test']);
const certDefault = issueCert(['default.example.test']);

function bindOptions(over: Partial<TlsBindOptions> = {}): TlsBindOptions {
  return {
    certificates: [certDefault, certA, certWild].map((c) => ({ cert: c.cert, key: c.key, names: c.names, source: 'test' })),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    alpn: ['http/1.1'],
    verify: 'none',
    ...over,
  };
}

/** A loopback server terminating TLS with a TlsTerminator; it greets with the negotiated SNI, then closes. */
async function startTerminator(opts: TlsBindOptions, ticketKeys: Buffer): Promise<number> {
  const terminator = new TlsTerminator(opts, ticketKeys);
  const srv = net.createServer((raw) => {
    raw.on('error', () => raw.destroy());
    const secure = terminator.wrap(raw);
    secure.on('error', () => raw.destroy());
    secure.on('secure', () => secure.end(`sni=${secure.servername || ''}\n`));
  });
  const listening = await listenTracked(srv);
  cleanups.push(listening.close);
  return listening.port;
}

interface Handshake {
  subjectCN: string;
  greeting: string;
  reused: boolean;
  session: Buffer | undefined;
  protocol: string | null;
  alpn: string | false | null;
}

function handshake(port: number, servername: string | undefined, opts: tls.ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, servername, ca: testCa().cert, ALPNProtocols: ['http/1.1'], ...opts });
    let greeting = '';
    let session: Buffer | undefined;
    let result: Omit<Handshake, 'greeting' | 'session'> | undefined;
    sock.on('secureConnect', () => {
      result = {
        // A resumed session carries no certificate.
        subjectCN: String(sock.getPeerCertificate().subject?.CN),
        reused: sock.isSessionReused(),
        protocol: sock.getProtocol(),
        alpn: sock.alpnProtocol,
      };
    });
    sock.on('session', (s) => (session = s));
    sock.on('data', (d) => (greeting += d));
    sock.on('error', reject);
    sock.on('close', () => (result ? resolve({ ...result, greeting, session }) : reject(new Error('no handshake'))));
    sock.setTimeout(5000, () => sock.destroy(new Error('handshake timed out')));
  });
}

describe('TLS termination', () => {
  const keys = randomBytes(48);

  it('picks the certificate by SNI: exact, wildcard, then the first as default', async () => {
    const port = await startTerminator(bindOptions(), keys);
    const a = await handshake(port, 'a.example.test');
    assert.equal(a.subjectCN, 'a.example.test');
    assert.equal(a.greeting, 'sni=a.example.test\n');
    assert.equal(a.alpn, 'http/1.1');
    const w = await handshake(port, 'X.Wild.Example.Test');
    assert.equal(w.subjectCN, '*.wild.example.test');
    const d = await handshake(port, 'other.example.test', { rejectUnauthorized: false });
    assert.equal(d.subjectCN, 'default.example.test');
    const none = await handshake(port, undefined, { rejectUnauthorized: false });
    assert.equal(none.subjectCN, 'default.example.test');
  });

  it('answers openssl s_client -servername with the matching certificate', async () => {
    const port = await startTerminator(bindOptions(), keys);
    const caFile = path.join(tempDir(), 'ca.pem');
    writeFileSync(caFile, testCa().cert);
    const out = await new Promise<string>((resolve, reject) => {
      const child = execFile(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'x.wild.example.test', '-CAfile', caFile],
        { timeout: 10_000 },
        (err, stdout) => (err && !stdout ? reject(err) : resolve(stdout)),
      );
      child.stdin?.end();
    });
    assert.match(out, /subject=\s*CN\s*=\s*\*\.wild\.example\.test/);
    assert.match(out, /Verify return code: 0 \(ok\)/);
  });

  it('honours minVersion/maxVersion', async () => {
    const port = await startTerminator(bindOptions({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }), keys);
    const h = await handshake(port, 'a.example.test');
    assert.equal(h.protocol, 'TLSv1.2');
    const port13 = await startTerminator(bindOptions({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }), keys);
    await assert.rejects(handshake(port13, 'a.example.test', { maxVersion: 'TLSv1.2' }));
  });

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`resumes a ${version} session on another terminator sharing the ticket keys`, async () => {
      const opts = bindOptions({ maxVersion: version });
      const portA = await startTerminator(opts, keys);
      const portB = await startTerminator(opts, keys);
      const portOther = await startTerminator(opts, randomBytes(48));
      const first = await handshake(portA, 'a.example.test');
      assert.equal(first.reused, false);
      assert.ok(first.session, 'a session ticket was issued');
      const second = await handshake(portB, 'a.example.test', { session: first.session });
      assert.equal(second.reused, true);
      const third = await handshake(portOther, 'a.example.test', { session: first.session });
      assert.equal(third.reused, false);
    });
  }

  // TLS 1.3 clients treat tickets as single-use (a TLS 1.2 client keeps resuming its first session).
  it('issues a new TLSv1.3 ticket on each resumption, so single-use tickets chain', async () => {
    const port = await startTerminator(bindOptions({ maxVersion: 'TLSv1.3' }), keys);
    let h = await handshake(port, 'a.example.test');
    for (let i = 0; i < 3; i++) {
      assert.ok(h.session, `connection ${i} left a ticket`);
      h = await handshake(port, 'a.example.test', { session: h.session });
      assert.equal(h.reused, true, `resumption ${i + 1} with the previous connection's ticket`);
    }
  });
});

describe('TLS re-encryption to servers', () => {
  async function startTlsEcho(): Promise<{ port: number; servernames: (string | false | null)[] }> {
    const backendCert = issueCert(['backend.example.test']);
    const servernames: (string | false | null)[] = [];
    const srv = tls.createServer({ cert: backendCert.cert, key: backendCert.key }, (s) => {
      servernames.push(s.servername);
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          srv.close(() => resolve());
        }),
    );
    return { port: (srv.address() as net.AddressInfo).port, servernames };
  }

  function roundTrip(port: number, payload: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host: '127.0.0.1' });
      let got = '';
      sock.on('data', (d) => {
        got += d;
        if (got.length >= payload.length) sock.end();
      });
      sock.on('error', reject);
      sock.on('close', () => resolve(got));
      sock.setTimeout(5000, () => sock.destroy(new Error('round trip timed out')));
      sock.write(payload);
    });
  }

  it('connects to a TLS server with the configured SNI and verifies it against the CA', async () => {
    const backend = await startTlsEcho();
    const p = await startL4Proxy(
      tcpModel([
        server('tls', backend.port, { tls: { enabled: true, sni: 'backend.example.test', verify: 'required', ca: testCa().cert } }),
      ]),
    );
    cleanups.push(p.close);
    assert.equal(await roundTrip(p.port, 'encrypted hello'), 'encrypted hello');
    assert.deepEqual(backend.servernames, ['backend.example.test']);
  });

  it('refuses a server whose certificate does not match when verify is required', async () => {
    const backend = await startTlsEcho();
    const p = await startL4Proxy(
      tcpModel([server('tls', backend.port, { tls: { enabled: true, sni: 'wrong.example.test', verify: 'required', ca: testCa().cert } })]),
    );
    cleanups.push(p.close);
    assert.equal(await roundTrip(p.port, 'x'), '');
    assert.equal(p.runtime.backends.get('be_tcp')!.counters.errConn, 1);
  });

  it('accepts any certificate with verify none', async () => {
    const backend = await startTlsEcho();
    const p = await startL4Proxy(tcpModel([server('tls', backend.port, { tls: { enabled: true, verify: 'none' } })]));
    cleanups.push(p.close);
    assert.equal(await roundTrip(p.port, 'unverified'), 'unverified');
  });
});
