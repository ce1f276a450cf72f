/** Match methods (`-m str|beg|end|sub|dom|dir|reg|ip|int|found|bool|len|bin`) compiled to predicates. */
import { BlockList, isIP } from 'node:net';
import type { MatchMethod } from '../config/model';
import type { Sample } from './fetches';

export type Matcher = (sample: Sample) => boolean;

export function compileMatcher(method: MatchMethod, patterns: string[], ignoreCase: boolean): Matcher {
  if (method === 'found') return (s) => s !== undefined && !(Array.isArray(s) && s.length === 0);
  if (method === 'bool') {
    return (s) => (Array.isArray(s) ? s.length > 0 : typeof s === 'number' ? s !== 0 : !!s);
  }
  const test = compileScalar(method, patterns, ignoreCase);
  return (s) => {
    if (s === undefined) return false;
    if (Array.isArray(s)) {
      for (let i = 0; i < s.length; i++) if (test(s[i])) return true;
      return false;
    }
    return test(s);
  };
}

function compileScalar(method: MatchMethod, patterns: string[], ignoreCase: boolean): (v: string | number | boolean) => boolean {
  const pats = ignoreCase ? patterns.map((p) => p.toLowerCase()) : patterns;
  const norm = ignoreCase ? (v: string | number | boolean) => String(v).toLowerCase() : (v: string | number | boolean) => String(v);
  switch (method) {
    case 'str': {
      const set = new Set(pats);
      return (v) => set.has(norm(v));
    }
    case 'beg':
      return (v) => {
        const s = norm(v);
        return pats.some((p) => s.startsWith(p));
      };
    case 'end':
      return (v) => {
        const s = norm(v);
        return pats.some((p) => s.endsWith(p));
      };
    case 'sub':
      return (v) => {
        const s = norm(v);
        return pats.some((p) => s.includes(p));
      };
    case 'dir':
      return (v) => {
        const parts = norm(v).split('/');
        return pats.some((p) => parts.includes(p));
      };
    case 'dom':
      return (v) => {
        const parts = norm(v).split(/[./:]/);
        return pats.some((p) => {
          const want = p.split('.');
          for (let i = 0; i + want.length <= parts.length; i++) {
            let ok = true;
            for (let j = 0; j < want.length && ok; j++) ok = parts[i + j] === want[j];
            if (ok) return true;
          }
          return false;
        });
      };
    case 'reg': {
      const res = patterns.map((p) => new RegExp(p, ignoreCase ? 'i' : ''));
      return (v) => {
        const s = String(v);
        return res.some((r) => r.test(s));
      };
    }
    case 'len': {
      const tests = pats.map(intTest);
      return (v) => {
        const n = String(v).length;
        return tests.some((t) => t(n));
      };
    }
    case 'int': {
      const tests = pats.map(intTest);
      return (v) => {
        const n = typeof v === 'number' ? v : Number(v);
        return tests.some((t) => t(n));
      };
    }
    case 'bin': {
      const set = new Set(patterns.map((p) => p.toUpperCase()));
      return (v) => set.has(Buffer.from(String(v), 'latin1').toString('hex').toUpperCase());
    }
    case 'ip': {
      const list = new BlockList();
      for (const p of patterns) addIpPattern(list, p);
      return (v) => {
        const s = String(v);
        const family = isIP(s);
        return family === 4 ? list.check(s, 'ipv4') : family === 6 ? list.check(s, 'ipv6') : false;
      };
    }
    case 'found':
    case 'bool':
      throw new Error('unreachable');
  }
}

/** HAProxy integer patterns: `N`, `N:M` range, `lt N`, `le N`, `gt N`, `ge N`, `eq N`. */
function intTest(p: string): (n: number) => boolean {
  const op = /^(lt|le|gt|ge|eq)\s+(-?\d+)$/.exec(p);
  if (op) {
    const k = Number(op[2]);
    switch (op[1]) {
      case 'lt':
        return (n) => n < k;
      case 'le':
        return (n) => n <= k;
      case 'gt':
        return (n) => n > k;
      case 'ge':
        return (n) => n >= k;
      default:
        return (n) => n === k;
    }
  }
  const range = /^(-?\d*):(-?\d*)$/.exec(p);
  if (range) {
    const lo = range[1] === '' ? -Infinity : Number(range[1]);
    const hi = range[2] === '' ? Infinity : Number(range[2]);
    return (n) => n >= lo && n <= hi;
  }
  const k = Number(p);
  return (n) => n === k;
}

function addIpPattern(list: BlockList, p: string): void {
  const [addr, bits] = p.split('/');
  const family = isIP(addr);
  if (!family) throw new Error(`"${p}" is not an IP address or CIDR`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (bits === undefined) list.addAddress(addr, type);
  else list.addSubnet(addr, Number(bits), type);
}
