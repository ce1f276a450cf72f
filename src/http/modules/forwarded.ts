/**
 * X-Forwarded-For (HAProxy `option forwardfor [except …] [header …] [if-none]`),
 * X-Forwarded-Proto and X-Forwarded-Host on the request to the server.
 *
 * A backend's `forwardfor` wins over its frontend's: the backend's module adds the
 * header, and the frontend's adds its own only for backends without one. Client-sent
 * X-Forwarded-Proto/-Host are replaced by tslb's.
 */
import { BlockList, isIPv6 } from 'node:net';
import type { ForwardFor } from '../../config/model';
import { H_X_FORWARDED_HOST, H_X_FORWARDED_PROTO } from '../head';
import type { HttpExchange } from '../exchange';
import { CONTINUE, type HttpModule, type ModuleDefinition } from '../pipeline';

/** `option forwardfor`: the header line with the client address, unless excepted or present (if-none). */
class ForwardedFor {
  private readonly name: string;
  private readonly except: BlockList | null;

  constructor(private readonly ff: ForwardFor) {
    this.name = ff.header.toLowerCase();
    this.except = ff.except.length ? exceptList(ff.except) : null;
  }

  add(ex: HttpExchange): void {
    // The source set-src or source_from_header chose, else the peer's.
    const src = ex.ctx.src;
    if (this.ff.ifNone && ex.req.find(this.name) >= 0) return;
    if (this.except && this.except.check(src, isIPv6(src) ? 'ipv6' : 'ipv4')) return;
    ex.addRequestHeader(this.ff.header, src);
  }
}

function exceptList(except: string[]): BlockList {
  const list = new BlockList();
  for (const e of except) {
    const slash = e.indexOf('/');
    const addr = slash >= 0 ? e.slice(0, slash) : e;
    const family = isIPv6(addr) ? 'ipv6' : 'ipv4';
    if (slash >= 0) list.addSubnet(addr, Number(e.slice(slash + 1)), family);
    else list.addAddress(addr, family);
  }
  return list;
}

class FrontendForwarded implements HttpModule {
  constructor(
    private readonly forwardFor: ForwardedFor | null,
    private readonly proto: boolean,
    private readonly host: boolean,
  ) {}

  upstreamRequest(ex: HttpExchange): number {
    if (this.forwardFor && !ex.backend!.config.forwardFor) this.forwardFor.add(ex);
    if (this.proto || this.host) {
      const req = ex.req;
      for (let n = 0; n < req.count; n++) {
        const k = req.kind[n];
        if ((k === H_X_FORWARDED_PROTO && this.proto) || (k === H_X_FORWARDED_HOST && this.host)) req.dropAt(n);
      }
      if (this.proto) ex.reqExtras += ex.info.ssl ? 'X-Forwarded-Proto: https\r\n' : 'X-Forwarded-Proto: http\r\n';
      if (this.host && req.host >= 0) ex.addRequestHeader('X-Forwarded-Host', req.value(req.host));
    }
    return CONTINUE;
  }
}

class BackendForwardedFor implements HttpModule {
  constructor(private readonly forwardFor: ForwardedFor) {}

  upstreamRequest(ex: HttpExchange): number {
    this.forwardFor.add(ex);
    return CONTINUE;
  }
}

export const forwarded: ModuleDefinition = {
  name: 'forwarded',
  create(scope) {
    if (scope.kind === 'backend') return scope.config.forwardFor ? new BackendForwardedFor(new ForwardedFor(scope.config.forwardFor)) : null;
    const fe = scope.config;
    if (!fe.forwardFor && !fe.forwardedProto && !fe.forwardedHost) return null;
    return new FrontendForwarded(fe.forwardFor ? new ForwardedFor(fe.forwardFor) : null, fe.forwardedProto, fe.forwardedHost);
  },
};
