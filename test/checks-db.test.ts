/** redis-check, mysql-check and pgsql-check against real servers started on loopback. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthMonitor } from '../src/primary/health';
import { startMariaDb, startPostgres, startRedis, type Started } from './services/databases';
import { backend, captureLog, model, server, timeouts, waitFor } from './services/fixtures';

const stops: (() => Promise<void>)[] = [];
after(async () => {
  for (const s of stops) await s();
});

function running(s: Started): s is Exclude<Started, { skip: string }> {
  if ('skip' in s) return false;
  stops.push(s.stop);
  return true;
}

/** Run a monitor over `backends` until `done` holds (bounded). */
async function check(backends: ReturnType<typeof backend>[], done: (h: ReturnType<HealthMonitor['health']>) => boolean) {
  for (const b of backends) b.timeouts = { ...timeouts, check: 2000 };
  const cap = captureLog();
  const mon = new HealthMonitor(model(backends), cap.log, () => {});
  mon.start();
  try {
    await waitFor(() => done(mon.health()), 8000, 'check results', () => mon.health());
    return { health: mon.health(), messages: cap.messages() };
  } finally {
    mon.stop();
  }
}

const byName = (h: ReturnType<HealthMonitor['health']>, s: string) => h.find((x) => x.server === s)!;

describe('redis-check', () => {
  let redis: Started;
  before(async () => void (redis = await startRedis()));
  test('PING answered with +PONG', async (t) => {
    if (!running(redis)) return t.skip((redis as { skip: string }).skip);
    const { health } = await check([backend('cache', [server('r1', redis.port, {}, { inter: 200 })], { kind: 'redis' })], (h) => h[0].checkStatus === 'L7OK');
    assert.equal(byName(health, 'r1').checkDesc, 'Redis server is ok');
  });
});

describe('mysql-check against MariaDB', () => {
  let db: Started;
  before(async () => void (db = await startMariaDb()));
  test('greeting, good user passes, unknown user fails with the server error code', async (t) => {
    if (!running(db)) return t.skip((db as { skip: string }).skip);
    const { health, messages } = await check(
      [
        backend('plain', [server('m0', db.port, {}, { inter: 200 })], { kind: 'mysql' }),
        backend('good', [server('m1', db.port, {}, { inter: 200 })], { kind: 'mysql', user: 'haproxy', mysqlPost41: true }),
        backend('bad', [server('m2', db.port, {}, { inter: 200 })], { kind: 'mysql', user: 'intruder', mysqlPost41: true }),
      ],
      (h) => byName(h, 'm0').checkStatus === 'L7OK' && byName(h, 'm1').checkStatus === 'L7OK' && !byName(h, 'm2').up,
    );
    assert.match(byName(health, 'm1').checkDesc, /MariaDB/);
    const bad = byName(health, 'm2');
    assert.equal(bad.checkStatus, 'L7STS');
    assert.equal(bad.checkCode, 1045);
    assert.match(bad.checkDesc, /^#28000Access denied for user 'intruder'/);
    assert.ok(messages.some((m) => /^Server bad\/m2 is DOWN, reason: Layer7 wrong status, code: 1045, info: "#28000Access denied for user 'intruder'@'127\.0\.0\.1'/.test(m)), messages.join('\n'));
  });
});

describe('pgsql-check against PostgreSQL', () => {
  let db: Started;
  before(async () => void (db = await startPostgres()));
  test('good user passes, a rejected user fails with SQLSTATE 28000', async (t) => {
    if (!running(db)) return t.skip((db as { skip: string }).skip);
    const { health } = await check(
      [
        backend('good', [server('p1', db.port, {}, { inter: 200 })], { kind: 'pgsql', user: 'haproxy' }),
        backend('bad', [server('p2', db.port, {}, { inter: 200 })], { kind: 'pgsql', user: 'intruder' }),
      ],
      (h) => byName(h, 'p1').checkStatus === 'L7OK' && !byName(h, 'p2').up,
    );
    assert.equal(byName(health, 'p1').checkDesc, 'PostgreSQL server is ok');
    assert.equal(byName(health, 'p2').checkStatus, 'L7RSP');
    assert.match(byName(health, 'p2').checkDesc, /^FATAL 28000: pg_hba\.conf rejects connection for host "127\.0\.0\.1", user "intruder"/);
  });
});
