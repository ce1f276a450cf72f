/**
 * HTTP response compression settings of a frontend or backend: the native
 * `compression: {algos, types, min_size, level, offload}` object and HAProxy's lines
 * in `options:` (`compression algo gzip deflate`, `compression type text/html`,
 * `compression offload`, `compression minsize-res 1k`, `compression direction response`),
 * `defaults` lines first, then the section's own lines, then the native fields (which win).
 */
import * as zlib from 'node:zlib';
import type { Compression, CompressionAlgo, Mode } from './model';
import type { BackendInput } from './schema-backend';
import type { Diagnostics, Where } from './source';
import { parseSize, splitWords } from './haproxy-syntax';

/** An HAProxy `compression …` line. */
export const COMPRESSION_LINE = /^\s*compression\s/;
export interface CompressionLine {
  text: string;
  where: Where;
}

const ALGOS: readonly CompressionAlgo[] = ['gzip', 'deflate', 'raw-deflate', 'br', 'zstd'];
/** HAProxy's tune.comp.maxlevel default. */
const DEFAULT_LEVEL = 1;

/** zstd is in node:zlib from Node 22.15 / 23.8 on. */
function zstdAvailable(): boolean {
  return typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === 'function';
}

interface Given {
  algos?: CompressionAlgo[];
  types?: string[];
  minSize?: number;
  level?: number;
  offload?: boolean;
}

/** The settings of one proxy, or undefined when it does not compress (errors reported). */
export function compression(
  native: BackendInput['compression'],
  lines: readonly CompressionLine[],
  mode: Mode,
  where: Where,
  diag: Diagnostics,
): Compression | undefined {
  const given: Given = {};
  for (const l of lines) applyLine(l, given, diag);
  if (native) {
    if (native.algos) given.algos = native.algos;
    if (native.types) given.types = native.types;
    if (native.min_size !== undefined) {
      const size = parseSize(native.min_size);
      if (size.error !== undefined) diag.error(where, `compression min_size: ${size.error}`);
      else given.minSize = size.value;
    }
    if (native.level !== undefined) given.level = native.level;
    if (native.offload !== undefined) given.offload = native.offload;
  }
  if (native === undefined && lines.length === 0) return undefined;
  const at = native !== undefined ? where : lines[0].where;
  if (mode !== 'http') {
    diag.error(at, 'compression needs mode http');
    return undefined;
  }
  if (!given.algos) {
    // HAProxy compresses nothing without `compression algo`.
    diag.error(at, 'compression needs its algorithms: algos: [gzip] or "compression algo gzip"');
    return undefined;
  }
  if (given.algos.includes('zstd') && !zstdAvailable()) {
    diag.error(at, `compression algo zstd needs Node 22.15+ or 23.8+ (this is Node ${process.versions.node})`);
    return undefined;
  }
  return {
    algos: [...new Set(given.algos)],
    types: (given.types ?? []).map((t) => t.toLowerCase()),
    minSize: given.minSize ?? 0,
    level: given.level ?? DEFAULT_LEVEL,
    offload: given.offload ?? false,
  };
}

function applyLine(l: CompressionLine, given: Given, diag: Diagnostics): void {
  const [, kw, ...args] = splitWords(l.text);
  switch (kw) {
    case 'algo':
    case 'algo-res': {
      if (!args.length) return diag.error(l.where, `compression ${kw} expects <algorithm>…`);
      const bad = args.find((a) => !(ALGOS as readonly string[]).includes(a));
      if (bad !== undefined) return diag.error(l.where, `compression ${kw}: "${bad}" is not a supported algorithm (${ALGOS.join(', ')})`);
      // Each line adds to the list, as in HAProxy.
      given.algos = [...(given.algos ?? []), ...(args as CompressionAlgo[])];
      return;
    }
    case 'type':
    case 'type-res':
      if (!args.length) return diag.error(l.where, `compression ${kw} expects <type>…`);
      given.types = [...(given.types ?? []), ...args];
      return;
    case 'offload':
      if (args.length) return diag.error(l.where, 'compression offload takes no argument');
      given.offload = true;
      return;
    case 'minsize-res': {
      const size = args.length === 1 ? parseSize(args[0]) : { error: 'compression minsize-res expects a size' };
      if (size.error !== undefined) return diag.error(l.where, size.error);
      given.minSize = size.value;
      return;
    }
    case 'direction':
      if (args.length !== 1 || !['request', 'response', 'both'].includes(args[0])) return diag.error(l.where, "compression direction expects 'request', 'response', or 'both'");
      if (args[0] !== 'response') diag.error(l.where, 'compression direction: tslb compresses responses only (request compression is not supported)');
      return;
    case 'algo-req':
    case 'type-req':
    case 'minsize-req':
      return diag.error(l.where, `compression ${kw}: request compression is not supported (tslb compresses responses)`);
    default:
      return diag.error(l.where, `"${l.text}": compression expects 'algo', 'type', 'direction', 'offload' or 'minsize-res'`);
  }
}
