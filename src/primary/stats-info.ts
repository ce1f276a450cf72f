/** `show info`: the process-wide facts in HAProxy's order (runtime API, stats page, Prometheus). */
import { hostname } from 'node:os';
import type { StatsSources } from './stats-rows';

export interface ProcessFacts {
  startedAt: number;
  workers: number;
  stopping: boolean;
  /** Peers of the running `peers` sections, and those connected (src/peers/). */
  peers?: { active: number; connected: number };
}

/** `show info` key/value pairs in HAProxy's order (the subset that means something here, same names). */
export function buildInfo(src: StatsSources, facts: ProcessFacts, version: string): [string, string | number][] {
  const { model, stats, now } = src;
  let cur = 0;
  let cum = 0;
  let req = 0;
  let rate = 0;
  let rateMax = 0;
  let bout = 0;
  let compIn = 0;
  let compOut = 0;
  for (const o of stats.frontends.values()) {
    compIn += o.compInRate;
    compOut += o.compOutRate;
    cur += o.cur;
    cum += o.get('sessTotal');
    req += o.get('reqTotal');
    rate += o.rate;
    rateMax += o.rateMax;
    bout += o.get('bytesOut');
  }
  const up = Math.floor((now - facts.startedAt) / 1000);
  const mem = process.memoryUsage();
  return [
    ['Name', 'tslb'],
    ['Version', version],
    ['Release_date', ''],
    ['Nbthread', facts.workers],
    ['Nbproc', 1],
    ['Process_num', 1],
    ['Pid', process.pid],
    ['Uptime', `${Math.floor(up / 86400)}d ${Math.floor((up % 86400) / 3600)}h${pad2(Math.floor((up % 3600) / 60))}m${pad2(up % 60)}s`],
    ['Uptime_sec', up],
    ['Start_time_sec', Math.floor(facts.startedAt / 1000)],
    ['Memmax_MB', 0],
    ['Memmax_bytes', 0],
    ['PoolAlloc_MB', Math.floor(mem.rss / 1048576)],
    ['PoolAlloc_bytes', mem.rss],
    ['PoolUsed_MB', Math.floor(mem.heapUsed / 1048576)],
    ['PoolUsed_bytes', mem.heapUsed],
    ['PoolFailed', 0],
    ['Maxconn', model.global.maxconn],
    ['Hard_maxconn', model.global.maxconn],
    ['CurrConns', cur],
    ['CumConns', cum],
    ['CumReq', req],
    ['ConnRate', rate],
    ['ConnRateLimit', 0],
    ['MaxConnRate', rateMax],
    ['SessRate', rate],
    ['SessRateLimit', 0],
    ['MaxSessRate', rateMax],
    ['CompressBpsIn', compIn],
    ['CompressBpsOut', compOut],
    ['CompressBpsRateLim', (model.global.maxCompRate ?? 0) * 1024],
    ['Tasks', cur],
    ['Run_queue', 0],
    ['Idle_pct', 100],
    ['node', hostname()],
    ['Stopping', facts.stopping ? 1 : 0],
    ['Jobs', cur],
    ['Unstoppable Jobs', 0],
    ['Listeners', model.frontends.reduce((n, f) => n + f.binds.length, 0)],
    ['ActivePeers', facts.peers?.active ?? 0],
    ['ConnectedPeers', facts.peers?.connected ?? 0],
    ['TotalBytesOut', bout],
    ['CurrStreams', cur],
    ['CumStreams', cum],
  ];
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
