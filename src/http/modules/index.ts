/**
 * The built-in modules, in the order a proxy's phase arrays run them (src/http/pipeline.ts).
 * Order matters where two modules share a phase: X-Forwarded-* lines come before
 * the persistence cookie's; a cookie names the server before a stick table does; the
 * monitor URI is answered before anything else (as HAProxy) and is not counted by stick
 * counters, which count every other request before the https redirect and the
 * http-request rules run (the seed's redirect rule came first).
 */
import type { ModuleDefinition } from '../pipeline';
import { accessLog } from './access-log';
import { acmeChallenge } from './acme-challenge';
import { authVerify } from './auth-verify';
import { errorPages } from './error-pages';
import { forwarded } from './forwarded';
import { hsts } from './hsts';
import { httpsRedirect } from './https-redirect';
import { monitorUri } from './monitor';
import { securityHeaders } from './security-headers';
import { httpAfterResponseRules, httpRequestRules, httpResponseRules } from './http-rules';
import { cookiePersistence } from './cookie';
import { stickOn } from './stick';
import { stickCounters } from './stick-counters';
import { cacheStore } from './cache';
import { compression } from './compression';
import { sourceFromHeader } from './source-from-header';
import { bufferRequest } from './buffer-request';

export const HTTP_MODULES: readonly ModuleDefinition[] = [
  // First: a request it holds for a password check runs its phases again from the start.
  authVerify,
  // Before the rules and the HTTPS redirect: a challenge is answered whatever they say.
  acmeChallenge,
  // Before everything that reads the source address (stick counters, rules, logs).
  sourceFromHeader,
  monitorUri,
  // Before the rules (HAProxy's http-buffer-request analyser runs before them); a monitor URI is answered at once.
  bufferRequest,
  stickCounters,
  httpsRedirect,
  httpRequestRules,
  httpResponseRules,
  forwarded,
  cookiePersistence,
  stickOn,
  // cache-store (an http-response rule) took the server's head before compression's response
  // phase edits it, and this body tap sees the server's bytes; a hit, a local answer, is not compressed.
  cacheStore,
  compression,
  hsts,
  securityHeaders,
  errorPages,
  httpAfterResponseRules,
  accessLog,
];
