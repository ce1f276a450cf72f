/**
 * Model types of stick tables and connection-level protection: `stick on`, stick-table definitions
 * (with their Redis store), the trusted client-address header and `tcp-request` rules.
 */
import type { Condition, SourceRef } from './model';

export interface StickRule {
  /** Fetch name (`src`, `hdr`, ...) and its arguments. */
  fetch: string;
  args: string[];
  text: string;
}

/** One stored data type of a stick table: `conn_cur`, or a rate with its period (`conn_rate(10s)`). */
export interface StoredData {
  /** HAProxy's name: conn_cur, conn_cnt, conn_rate, sess_cnt, sess_rate, http_req_cnt, http_req_rate, http_err_cnt, http_err_rate, bytes_in_cnt, bytes_in_rate, bytes_out_cnt, bytes_out_rate, gpc0, gpc0_rate, gpt0. */
  type: string;
  /** ms; rates only. */
  period?: number;
}

/**
 * A `stick-table` of a frontend or backend (HAProxy names it after its proxy): the
 * entries of `stick on` (the server of a key) and the counters `track-sc` updates.
 */
export interface StickTableDef {
  name: string;
  type: 'ip' | 'ipv6' | 'integer' | 'string';
  /** string tables: keys are cut to this many characters (HAProxy `len`, default 32). */
  keyLen: number;
  /** Most entries kept (the least recently used one not in use goes first). */
  size: number;
  /** ms since last use; 0 = never. */
  expire: number;
  store: StoredData[];
  /** Fleet-wide counters: the counters and rates are also kept in Redis (src/stick/redis.ts). */
  redis?: StickRedisDef;
  /** `peers <name>`: the peers section whose members replicate this table (src/peers/). */
  peers?: string;
}

/** A stick table's Redis store (YAML `stick_table.redis`; HAProxy has no equivalent). */
export interface StickRedisDef {
  /** redis:// or rediss:// URL. */
  url: string;
  /** Prefix of the Redis keys. */
  prefix: string;
  /** ms between two flushes of this node's increments (each reads the fleet totals back). */
  flushInterval: number;
  /** ms a flush may wait for its answer before Redis counts as down. */
  timeout: number;
}

/** The client address a trusted proxy passes on (X-Forwarded-For). */
export interface SourceFromHeader {
  /** Lower-case header name. */
  header: string;
  /** Addresses or CIDR networks of the proxies whose header is believed. */
  trusted: string[];
}

/** The stick-counter actions (src/stick) of both `tcp-request` and `http-request` rules: on the connection's counters. */
export type StickCounterAction =
  /** `track-sc<counter> <fetch> [table <table>]`: the table defaults to the frontend's own. */
  | { action: 'track-sc'; counter: number; fetch: string; args: string[]; table: string }
  | { action: 'sc-inc-gpc0'; counter: number }
  /** `sc-set-gpt0(N) <int|expr>`: gpt0 of counter N's entry (an expression's value when it is a non-negative integer). */
  | { action: 'sc-set-gpt0'; counter: number; value: string };

/** A `tcp-request connection|session|content` action. */
export type TcpAction =
  | { action: 'accept' }
  | { action: 'reject' }
  | { action: 'silent-drop' }
  | StickCounterAction;

/**
 * `tcp-request connection` rules run when a connection is accepted (before a PROXY
 * header and TLS: `src` is the peer's address), `session` ones once the PROXY header
 * and the TLS handshake are done, `content` ones before the backend is chosen (tcp
 * frontends: after the inspected ClientHello; http frontends: once per connection).
 */
export interface TcpRequestRule {
  stage: 'connection' | 'session' | 'content';
  act: TcpAction;
  /** Absent means always. */
  condition?: Condition;
  text: string;
  source?: SourceRef;
}
