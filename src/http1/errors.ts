/**
 * Responses the proxy generates itself: HAProxy 2.6's built-in error messages
 * (byte for byte, from its src/http.c: status line, Content-length, Cache-Control,
 * Connection: close on 400/408, Content-Type, body) and redirects. Errorfiles are
 * the error-pages module's (src/http/modules/error-pages.ts).
 *
 * (501's body starts with a stray '.', as HAProxy's does.) HAProxy has no 431 message (it answers an oversized head with 400); tslb sends
 * 431 with a body in the same style, and 414 for `deny_status 414` (a URL length rule).
 */

const DEFAULTS: Record<number, [reason: string, text: string, close: boolean]> = {
  // The monitor-uri answer.
  200: ['OK', 'Service ready.', false],
  400: ['Bad request', 'Your browser sent an invalid request.', true],
  401: ['Unauthorized', 'You need a valid user and password to access this content.', false],
  403: ['Forbidden', 'Request forbidden by administrative rules.', false],
  404: ['Not Found', 'The resource could not be found.', false],
  405: ['Method Not Allowed', 'A request was made of a resource using a request method not supported by that resource', false],
  408: ['Request Time-out', "Your browser didn't send a complete request in time.", true],
  410: ['Gone', 'The resource is no longer available and will not be returned.', false],
  414: ['URI Too Long', 'The request URL is too long.', false],
  413: ['Payload Too Large', 'The request entity exceeds the maximum allowed.', false],
  429: ['Too Many Requests', 'You have sent too many requests in a given amount of time.', false],
  425: ['Too Early', 'Your browser sent early data.', false],
  431: ['Request Header Fields Too Large', 'The request header fields are too large.', true],
  500: ['Internal Server Error', 'An internal server error occurred.', false],
  501: ['Not Implemented', '.The server does not support the functionality required to fulfill the request.', false],
  502: ['Bad Gateway', 'The server returned an invalid or incomplete response.', false],
  503: ['Service Unavailable', 'No server is available to handle this request.', false],
  504: ['Gateway Time-out', "The server didn't respond in time.", false],
};

function build(status: number, closing = false): Buffer {
  const [reason, text, closeAlways] = DEFAULTS[status] ?? DEFAULTS[500];
  const close = closing || closeAlways;
  const body = `<html><body><h1>${status} ${reason}</h1>\n${text}\n</body></html>\n`;
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\nContent-length: ${body.length}\r\nCache-Control: no-cache\r\n` +
      (close ? 'Connection: close\r\n' : '') +
      `Content-Type: text/html\r\n\r\n${body}`,
    'latin1',
  );
}

const builtIn = new Map<number, Buffer>();
/** The same messages saying `Connection: close`, for a connection that ends after them. */
const builtInClosing = new Map<Buffer, Buffer>();
for (const s of Object.keys(DEFAULTS)) {
  const msg = build(Number(s));
  builtIn.set(Number(s), msg);
  builtInClosing.set(msg, build(Number(s), true));
}

/** HAProxy's built-in message for a status (500's for a status it has none for). */
export function defaultErrorResponse(status: number): Buffer {
  return builtIn.get(status) ?? build(status);
}

/** A built-in message as sent on a connection closed after it (a keep-alive client must not send another request on it). */
export function closingResponse(msg: Buffer): Buffer {
  return builtInClosing.get(msg) ?? msg;
}

/** True for a built-in message (its framing is known, unlike an errorfile's). */
export function isDefaultResponse(buf: Buffer): boolean {
  return builtIn.get(buf.length === 0 ? 0 : statusOf(buf)) === buf;
}

function statusOf(buf: Buffer): number {
  return (buf[9] - 48) * 100 + (buf[10] - 48) * 10 + (buf[11] - 48);
}

const REDIRECT_REASONS: Record<number, string> = {
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
};

/** A redirect as HAProxy sends it: empty body, `Cache-Control: no-cache`. */
export function redirectResponse(code: number, location: string, close: boolean): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${code} ${REDIRECT_REASONS[code] ?? 'Found'}\r\ncontent-length: 0\r\nlocation: ${location}\r\n` +
      `cache-control: no-cache\r\n${close ? 'connection: close\r\n' : ''}\r\n`,
    'latin1',
  );
}

/** A 200 answer tslb makes itself (an ACME challenge's key authorization), with its length. */
export function okResponse(contentType: string, body: string, close: boolean): Buffer {
  return Buffer.from(
    `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body, 'latin1')}\r\ncontent-type: ${contentType}\r\n` +
      `cache-control: no-cache\r\n${close ? 'connection: close\r\n' : ''}\r\n${body}`,
    'latin1',
  );
}
