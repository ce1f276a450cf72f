/**
 * Error pages (HAProxy's `errorfile`, `errorfiles`, `errorloc`, `http-error`, resolved
 * per status by src/config/error-pages.ts): the message tslb sends when it answers a
 * status itself, from the backend's pages, else the frontend's (the localPage phase
 * runs the backend first), else the built-in page. Errorfiles are raw HTTP and go
 * out as written (an empty one closes without a response); an http-error reply is
 * built as `return`'s, its samples rendered per request, and says `Connection: close`
 * as errorfiles end the connection too.
 */
import type { ErrorPage } from '../../config/model';
import { compileMessage, type MessageFn } from '../actions/answer';
import type { HttpExchange } from '../exchange';
import type { HttpModule, ModuleDefinition } from '../pipeline';

class ErrorPages implements HttpModule {
  private readonly pages = new Map<number, Buffer | MessageFn>();

  constructor(pages: Record<string, ErrorPage>) {
    for (const status of Object.keys(pages)) {
      const p = pages[status];
      this.pages.set(Number(status), typeof p === 'string' ? Buffer.from(p, 'latin1') : compileMessage(p.status, p.answer));
    }
  }

  localPage(ex: HttpExchange, status: number): Buffer | null | undefined {
    const page = this.pages.get(status);
    if (page === undefined) return undefined;
    if (typeof page === 'function') return page(ex, true);
    return page.length ? page : null;
  }
}

export const errorPages: ModuleDefinition = {
  name: 'error-pages',
  create: (scope) => (Object.keys(scope.config.errorFiles).length ? new ErrorPages(scope.config.errorFiles) : null),
};
