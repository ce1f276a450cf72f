/**
 * Error pages (HAProxy `errorfile <status> <file>`): the message tslb sends when it
 * answers a status itself, from the backend's files, else the frontend's (the
 * localPage phase runs the backend first), else the built-in page. Errorfiles are
 * raw HTTP and go out as written; an empty one closes without a response.
 */
import type { HttpExchange } from '../exchange';
import type { HttpModule, ModuleDefinition } from '../pipeline';

class ErrorFiles implements HttpModule {
  private readonly pages = new Map<number, Buffer>();

  constructor(files: Record<string, string>) {
    for (const status of Object.keys(files)) this.pages.set(Number(status), Buffer.from(files[status], 'latin1'));
  }

  localPage(_ex: HttpExchange, status: number): Buffer | null | undefined {
    const page = this.pages.get(status);
    if (page === undefined) return undefined;
    return page.length ? page : null;
  }
}

export const errorPages: ModuleDefinition = {
  name: 'error-pages',
  create: (scope) => (Object.keys(scope.config.errorFiles).length ? new ErrorFiles(scope.config.errorFiles) : null),
};
