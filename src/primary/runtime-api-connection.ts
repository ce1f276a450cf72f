/**
 * One runtime API connection: lines in, replies out, one command at a time as in
 * HAProxy's CLI applet. The socket is paused while a line runs and while its replies
 * wait for the client to read them, so a client that sends more than it reads holds
 * one line of input and one reply, not everything its commands would produce.
 */
import type * as net from 'node:net';

/** HAProxy reads a command line, with its payload, into one buffer (tune.bufsize, 16 KiB); a longer one is refused. */
const MAX_LINE = 16384;
const LINE_TOO_LONG = `Command line too long (max ${MAX_LINE} bytes).\n\n`;

/** Writes a reply; a returned promise resolves once the client has read enough to take more. */
export type Send = (text: string) => Promise<void> | undefined;
/**
 * Runs one line of commands, sending each reply as it is ready; the prompt state may
 * change. `payload` is the text after a line that ends in `<<` (its last command's).
 */
export type RunLine = (line: string, interactive: boolean, send: Send, payload: string | undefined) => Promise<{ interactive: boolean; quit: boolean }>;

/** HAProxy's payload syntax: a line ending in the word `<<` takes the lines after it, up to an empty line. */
const PAYLOAD_MARK = /(^|[ \t])<<[ \t]*$/;

/** The next complete request at the start of `input`, or undefined until more input comes. */
function nextRequest(input: string): { line: string; payload: string | undefined; length: number } | undefined {
  const nl = input.indexOf('\n');
  if (nl < 0) return undefined;
  const line = input.slice(0, nl).replace(/\r$/, '');
  if (!PAYLOAD_MARK.test(line)) return { line, payload: undefined, length: nl + 1 };
  for (let start = nl + 1, end = input.indexOf('\n', start); end >= 0; start = end + 1, end = input.indexOf('\n', start)) {
    if (end === start || (end === start + 1 && input[start] === '\r')) {
      return { line, payload: input.slice(nl + 1, start).replace(/\r?\n$/, '').replace(/\r\n/g, '\n'), length: end + 1 };
    }
  }
  return undefined;
}

/** Without `prompt`, the connection closes after its first line; with it, each line ends with `> `. */
export function serveConnection(socket: net.Socket, runLine: RunLine): void {
  socket.on('error', () => socket.destroy());
  socket.setEncoding('utf8');
  let input = '';
  let interactive = false;
  let running = false;
  let inputEnded = false;
  let closed = false;
  const send: Send = (text) => (socket.write(text) ? undefined : drained(socket));
  // After the last reply the client's input is read and dropped: its FIN then frees the socket.
  const close = (text = '') => {
    closed = true;
    input = '';
    socket.end(text);
    socket.resume();
  };
  const run = async () => {
    running = true;
    socket.pause();
    let request;
    while ((request = nextRequest(input))) {
      if (request.length > MAX_LINE + 1) return close(LINE_TOO_LONG);
      input = input.slice(request.length);
      const result = await runLine(request.line, interactive, send, request.payload);
      if (socket.destroyed) return;
      interactive = result.interactive;
      if (result.quit || !interactive) return close();
      await send('> ');
    }
    if (input.length > MAX_LINE) return close(LINE_TOO_LONG);
    running = false;
    if (inputEnded) close();
    else socket.resume();
  };
  socket.on('data', (chunk: string) => {
    if (closed) return;
    input += chunk;
    if (!running) void run();
  });
  // `echo cmd | socat` ends its input at once: a line still running (asking the workers) answers first.
  socket.on('end', () => {
    inputEnded = true;
    if (!running && !closed) close();
  });
}

/** Resolves once the socket's queued output is written, or once it closes. */
function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
