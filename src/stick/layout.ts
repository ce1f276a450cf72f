/**
 * What a stick table stores (`store conn_cur,conn_rate(10s),…`) and where each value
 * lives in an entry. The data types are HAProxy's, in HAProxy's order (`show table`
 * prints them in it). An entry's values are one plain number array:
 * - slot 0 is `use`, the trackers holding the entry (HAProxy's ref count, shown as `use=`);
 * - a counter or a gauge takes one slot, a tag one slot;
 * - a rate takes three: HAProxy's freq_ctr `[curr_tick, curr_ctr, prev_ctr]` (./freq.ts).
 * A delta (what a worker adds, src/stick/worker.ts) is an array of the same shape:
 * counters and gauges add, a rate's events are in its `curr_ctr` slot, and a tag's slot
 * is 0 or 1 + the value set (`sc-set-gpt0`; the last one set wins).
 */
import type { Model, StickTableDef } from '../config/model';

export type DataKind = 'counter' | 'gauge' | 'rate' | 'tag';

export interface DataType {
  name: string;
  kind: DataKind;
}

/** HAProxy's data types that tslb stores, in HAProxy's order (server_id and server_key are the entry's `server`). */
export const DATA_TYPES: readonly DataType[] = [
  { name: 'gpt0', kind: 'tag' },
  { name: 'gpc0', kind: 'counter' },
  { name: 'gpc0_rate', kind: 'rate' },
  { name: 'conn_cnt', kind: 'counter' },
  { name: 'conn_rate', kind: 'rate' },
  { name: 'conn_cur', kind: 'gauge' },
  { name: 'sess_cnt', kind: 'counter' },
  { name: 'sess_rate', kind: 'rate' },
  { name: 'http_req_cnt', kind: 'counter' },
  { name: 'http_req_rate', kind: 'rate' },
  { name: 'http_err_cnt', kind: 'counter' },
  { name: 'http_err_rate', kind: 'rate' },
  { name: 'bytes_in_cnt', kind: 'counter' },
  { name: 'bytes_in_rate', kind: 'rate' },
  { name: 'bytes_out_cnt', kind: 'counter' },
  { name: 'bytes_out_rate', kind: 'rate' },
];

export const DATA_INDEX: ReadonlyMap<string, number> = new Map(DATA_TYPES.map((d, i) => [d.name, i]));

/** Indices into DATA_TYPES. */
export const GPT0 = 0;
export const GPC0 = 1;
export const GPC0_RATE = 2;
export const CONN_CNT = 3;
export const CONN_RATE = 4;
export const CONN_CUR = 5;
export const SESS_CNT = 6;
export const SESS_RATE = 7;
export const HTTP_REQ_CNT = 8;
export const HTTP_REQ_RATE = 9;
export const HTTP_ERR_CNT = 10;
export const HTTP_ERR_RATE = 11;
export const BYTES_IN_CNT = 12;
export const BYTES_IN_RATE = 13;
export const BYTES_OUT_CNT = 14;
export const BYTES_OUT_RATE = 15;

/** The slot of the trackers count. */
export const USE = 0;

export class Layout {
  /** The slot of each data type (DATA_TYPES order), -1 when the table does not store it. */
  readonly slot: Int32Array = new Int32Array(DATA_TYPES.length).fill(-1);
  /** The period (ms) of each stored rate. */
  readonly period: Float64Array = new Float64Array(DATA_TYPES.length);
  /** Stored data types, in DATA_TYPES order. */
  readonly stored: number[] = [];
  /** Slots of an entry. */
  readonly slots: number;
  /** Slots of the gauges a worker holds while its connections live (use, conn_cur): given back when it exits. */
  readonly gauges: number[] = [USE];

  constructor(def: Pick<StickTableDef, 'store'>) {
    let next = 1;
    const wanted = new Map(def.store.map((s) => [s.type, s.period ?? 0]));
    DATA_TYPES.forEach((d, i) => {
      if (!wanted.has(d.name)) return;
      this.stored.push(i);
      this.slot[i] = next;
      this.period[i] = wanted.get(d.name)!;
      next += d.kind === 'rate' ? 3 : 1;
      if (d.kind === 'gauge') this.gauges.push(this.slot[i]);
    });
    this.slots = next;
  }
}

/**
 * A table's identity in messages between the primary and workers: its name and what
 * decides its entries' shape, so a reload that changes `type` or `store` starts a new
 * table while the draining workers keep feeding the old one. `size` and `expire` may
 * change in place.
 */
export function tableId(def: StickTableDef): string {
  const shape = `${def.type}/${def.keyLen}/${def.store.map((s) => `${s.type}(${s.period ?? ''})`).join(',')}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < shape.length; i++) h = Math.imul(h ^ shape.charCodeAt(i), 0x01000193) >>> 0;
  return `${def.name}#${h.toString(16)}`;
}

/** Every stick table of a config: the frontends' and backends' own. */
export function stickTableDefs(model: Pick<Model, 'frontends' | 'backends'>): StickTableDef[] {
  const defs: StickTableDef[] = [];
  for (const f of model.frontends) if (f.stickTable) defs.push(f.stickTable);
  for (const b of model.backends) if (b.stickTable) defs.push(b.stickTable);
  return defs;
}
