/** The primary's maxconn slot broker: never more than maxconn leased, fair turns, exits free slots. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:cluster';
import { SlotBroker } from '../src/primary/slots';
import type { PrimaryToWorker } from '../src/ipc/messages';

function fakeWorker(name: string): Worker & { name: string; inbox: PrimaryToWorker[] } {
  const inbox: PrimaryToWorker[] = [];
  return { name, inbox, isConnected: () => true, send: (m: PrimaryToWorker) => inbox.push(m) } as unknown as Worker & {
    name: string;
    inbox: PrimaryToWorker[];
  };
}

const SERVER = 'app/s1';

test('slots go to waiting workers in turn and never exceed the limit', () => {
  const broker = new SlotBroker();
  const w1 = fakeWorker('w1');
  const w2 = fakeWorker('w2');
  broker.onMessage(w1, 1, { type: 'slot-want', server: SERVER, want: 5, limit: 1 });
  assert.deepEqual(w1.inbox, [{ type: 'slot-grant', server: SERVER, count: 1, keep: 1 }]);
  broker.onMessage(w2, 1, { type: 'slot-want', server: SERVER, want: 5, limit: 1 });
  assert.equal(broker.leased(1, SERVER), 1);
  assert.deepEqual(w2.inbox, [{ type: 'slot-keep', server: SERVER, keep: 0 }], 'nothing free: w2 waits');
  assert.deepEqual(w1.inbox.at(-1), { type: 'slot-keep', server: SERVER, keep: 0 }, 'w1 is asked to give its slot back when done');
  // Both wait: each returned slot goes to the other worker.
  const order: string[] = [];
  let holder = w1;
  for (let i = 0; i < 6; i++) {
    w1.inbox.length = 0;
    w2.inbox.length = 0;
    broker.onMessage(holder, 1, { type: 'slot-return', server: SERVER, count: 1, limit: 1 });
    assert.equal(broker.leased(1, SERVER), 1);
    holder = w1.inbox.some((m) => m.type === 'slot-grant') ? w1 : w2;
    order.push(holder.name);
  }
  assert.deepEqual(order, ['w2', 'w1', 'w2', 'w1', 'w2', 'w1']);
});

test('an idle holder is asked to keep fewer slots; the limit is lifted when nobody waits; exits free slots', () => {
  const broker = new SlotBroker();
  const w1 = fakeWorker('w1');
  const w2 = fakeWorker('w2');
  broker.onMessage(w1, 1, { type: 'slot-want', server: SERVER, want: 4, limit: 4 });
  assert.deepEqual(w1.inbox, [{ type: 'slot-grant', server: SERVER, count: 4, keep: -1 }]);
  w1.inbox.length = 0;
  broker.onMessage(w1, 1, { type: 'slot-want', server: SERVER, want: 0, limit: 4 });
  broker.onMessage(w2, 1, { type: 'slot-want', server: SERVER, want: 2, limit: 4 });
  assert.deepEqual(w1.inbox, [{ type: 'slot-keep', server: SERVER, keep: 2 }]);
  broker.onMessage(w1, 1, { type: 'slot-return', server: SERVER, count: 2, limit: 4 });
  assert.deepEqual(w2.inbox.at(-1), { type: 'slot-grant', server: SERVER, count: 2, keep: -1 });
  assert.deepEqual(w1.inbox.at(-1), { type: 'slot-keep', server: SERVER, keep: -1 });
  assert.equal(broker.leased(1, SERVER), 4);
  // Another generation has its own pool.
  broker.onMessage(w1, 2, { type: 'slot-want', server: SERVER, want: 1, limit: 4 });
  assert.equal(broker.leased(2, SERVER), 1);
  broker.workerExited(w2);
  assert.equal(broker.leased(1, SERVER), 2);
});

test('a lowered maxconn asks holders to give slots back', () => {
  const broker = new SlotBroker();
  const w1 = fakeWorker('w1');
  broker.onMessage(w1, 1, { type: 'slot-want', server: SERVER, want: 4, limit: 4 });
  broker.onMessage(w1, 1, { type: 'slot-want', server: SERVER, want: 0, limit: 2 });
  assert.deepEqual(w1.inbox.at(-1), { type: 'slot-keep', server: SERVER, keep: 2 });
  broker.onMessage(w1, 1, { type: 'slot-return', server: SERVER, count: 2, limit: 2 });
  assert.deepEqual(w1.inbox.at(-1), { type: 'slot-keep', server: SERVER, keep: -1 });
  assert.equal(broker.leased(1, SERVER), 2);
});
