/**
 * The built-in modules, in the order a proxy's phase arrays run them (src/http/pipeline.ts).
 * Order matters where two modules share a phase: X-Forwarded-* lines come before
 * the persistence cookie's; a cookie names the server before a stick table does.
 */
import type { ModuleDefinition } from '../pipeline';
import { accessLog } from './access-log';
import { errorPages } from './error-pages';
import { forwarded } from './forwarded';
import { httpAfterResponseRules, httpRequestRules, httpResponseRules } from './http-rules';
import { cookiePersistence } from './cookie';
import { stickOn } from './stick';
import { stickCounters } from './stick-counters';

export const HTTP_MODULES: readonly ModuleDefinition[] = [
  stickCounters,
  httpRequestRules,
  httpResponseRules,
  forwarded,
  cookiePersistence,
  stickOn,
  errorPages,
  httpAfterResponseRules,
  accessLog,
];
