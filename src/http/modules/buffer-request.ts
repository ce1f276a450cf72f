/**
 * HAProxy's `option http-buffer-request` (YAML `buffer_request: true`): the request
 * waits for its body (complete, or the buffer full) before the proxy's http-request
 * rules run, under the proxy's `timeout http-request` (408 when it passes), so they
 * and the routing can read it (req.body, req.body_param…). The body still goes to
 * the server unchanged. Built only for a proxy with the option.
 */
import type { HttpExchange } from '../exchange';
import type { HttpModule, ModuleDefinition } from '../pipeline';

class BufferRequest implements HttpModule {
  constructor(private readonly ms: number) {}
  request(ex: HttpExchange): number {
    return ex.waitForBody(this.ms, 0);
  }
}

export const bufferRequest: ModuleDefinition = {
  name: 'http-buffer-request',
  create: (scope) => (scope.config.bufferRequest ? new BufferRequest(scope.config.timeouts.httpRequest) : null),
};
