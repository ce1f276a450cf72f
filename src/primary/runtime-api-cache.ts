/**
 * `show cache` (HAProxy's management guide 9.3): each cache section and its fresh
 * entries, gathered from the workers, whose caches they are (src/http/cache/store.ts).
 * HAProxy's layout, one header line per cache (`available blocks` are the 1 kB blocks
 * free over all workers), then one line per entry; tslb has no shared-memory addresses
 * to print, so the `0x…` fields are identifiers (a worker's pid and the cache's or
 * entry's index), and an entry cached by two workers is listed twice.
 */
import type { CacheFacts } from '../http/cache/store';
import type { Command } from './runtime-api';

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

export const CACHE_COMMANDS: Command[] = [
  {
    words: ['show', 'cache'],
    // HAProxy asks for the admin level (cache.c cli_parse_show_cache).
    level: 'admin',
    usage: 'show cache : show cache status',
    run: async (api) => {
      const answers = await api.workers!('caches');
      const names = (api.model().caches ?? []).map((c) => c.name);
      let out = '';
      names.forEach((name, ci) => {
        let free = 0;
        let lines = '';
        for (const a of answers) {
          const c = (a.data as CacheFacts[]).find((x) => x.name === name);
          if (!c) continue;
          free += Math.floor((c.capacity - c.used) / 1024);
          c.entries.forEach((e, ei) => {
            const blocks = Math.ceil(e.size / 1024);
            lines += `0x${hex(a.pid, 8)}${hex(ei, 8)} hash:${e.hash} vary:0x${hex(e.vary, 40)} type:full size:${e.size} (${blocks} blocks), refcount:0, expire:${e.expire}\n`;
          });
        }
        out += `0x${hex(ci + 1, 16)}: ${name} (shctx:0x${hex(ci + 1, 16)}, available blocks:${free})\n${lines}`;
      });
      return out;
    },
    available: (api) => api.workers !== undefined,
  },
];
