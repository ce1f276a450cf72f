/**
 * Stick tables (`stick on <fetch>` + `stick-table`, ../../worker/stick.ts): the
 * request's key names the server stored for it, unless a persistence cookie already
 * named one (the cookie module runs first); the server a request is assigned is
 * stored under its key.
 */
import type { StickTable } from '../../worker/stick';
import type { HttpExchange } from '../exchange';
import { CONTINUE, type HttpModule, type ModuleDefinition } from '../pipeline';

/** `stick on`: the stored server for the request's key (unless a cookie named one), stored once assigned. */
class StickModule implements HttpModule {
  constructor(private readonly table: StickTable) {}

  choose(ex: HttpExchange): number {
    const key = this.table.key(ex.ctx);
    ex.stickKey = key;
    if (!ex.forced && key !== undefined) {
      const s = this.table.lookup(key);
      if (s && s.persistable) ex.forced = s;
    }
    return CONTINUE;
  }

  connect(ex: HttpExchange): void {
    if (ex.stickKey !== undefined) this.table.store(ex.stickKey, ex.server!);
  }
}

export const stickOn: ModuleDefinition = {
  name: 'stick',
  create: (scope) => (scope.kind === 'backend' && scope.runtime.stick ? new StickModule(scope.runtime.stick) : null),
};
