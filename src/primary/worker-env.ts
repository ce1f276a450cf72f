/**
 * The environment a worker is forked with.
 *
 * glibc's allocator tuning: a socket read through Node's streams allocates a fresh 64 KiB
 * buffer (TLS sockets and the `'data'` fallback of src/worker/socket-io.ts; plain sockets
 * share one buffer since) and V8 frees them in batches when it collects. With
 * glibc's defaults (trim threshold 128 KiB) each batch is handed back to the kernel and the
 * next reads fault the pages in again: measured on a 64 KiB L4 workload, a worker took
 * ~100k minor page faults per 3 s and spent twice the CPU per request (and flipped
 * between the two states run to run). Keeping up to 64 MiB of freed memory in the process
 * removes the faults (≈ 200 per run). glibc reads these at start; other libcs ignore them.
 * A value already present in the environment wins, so an operator can tune or undo it.
 */
const MALLOC_DEFAULTS: Readonly<Record<string, string>> = {
  MALLOC_TRIM_THRESHOLD_: String(64 * 1024 * 1024),
};

export function workerEnvironment(logLevel: string, slot: number, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = { TSLB_LOG_LEVEL: logLevel, TSLB_WORKER_SLOT: String(slot) };
  for (const [name, value] of Object.entries(MALLOC_DEFAULTS)) if (env[name] === undefined) out[name] = value;
  return out;
}
