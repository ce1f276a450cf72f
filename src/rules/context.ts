/**
 * What a fetch can read. The L4 path fills the connection part; the L7 path adds
 * the request (and, for response rules, the response). Fetches are registered in
 * src/rules/fetches.ts with the stages where they are valid, so the config check
 * refuses e.g. `hdr(host)` in a tcp frontend.
 */
import type { Trackers } from '../stick/worker';

export type Stage = 'connection' | 'request' | 'response';

/**
 * What is known of a client connection once accepted: the worker's ConnectionInfo
 * (src/worker/connection.ts) holds it, and every sample context reads it.
 */
export interface ConnectionFacts {
  /** Client address/port as rules, logs and balancers see it (the PROXY header wins). IPv4-mapped IPv6 is unmapped. */
  src: string;
  srcPort: number;
  /** Local (destination) address/port the client connected to. */
  dst: string;
  dstPort: number;
  /** TLS terminated by us on this connection. */
  ssl: boolean;
  /** SNI from the client hello, when TLS is terminated. */
  sni: string | undefined;
  /** The certificate the client presented on a bind that asks for one (`verify optional|required`). */
  clientCert?: ClientCertificate;
}

export interface SampleContext extends ConnectionFacts {
  stage: Stage;
  /**
   * Set while a log line's samples are evaluated: HAProxy fetches them in the request
   * direction (SMP_OPT_DIR_REQ), so `hdr()` reads the request there even after the response.
   */
  logging?: boolean;
  /**
   * The ClientHello read from a stream we do not terminate (tcp frontends whose
   * routing uses req_ssl_sni / req_ssl_hello_type): its server name and handshake type.
   */
  clientHelloSni?: string;
  clientHelloType?: number;
  frontend: string;
  /** A variable set by `set-var` (`txn.x`, `req.x`, `sess.x`); undefined when unset. */
  variable?(name: string): string | number | boolean | undefined;
  /** `http_auth(list)`: the request's Basic credentials name a user of the userlist. */
  httpAuth?(list: string): boolean;
  /** The stick counters the connection tracks (sc0..sc2), read by the sc_* fetches; absent when it tracks none. */
  readonly trackers?: Trackers;
  // ---- request (stage request/response); undefined/empty otherwise
  method(): string;
  /** The request line as received when a rule rewrote it (set-path…), else undefined. */
  receivedRequestLine?(): string | undefined;
  /** Path without query, as in the request target (origin-form). */
  path(): string;
  /** Full request target as received. */
  url(): string;
  /** Query string without `?`, or '' when none. */
  query(): string;
  /** HTTP version as `1.0` / `1.1`. */
  version(): string;
  /** Last value of a request header (comma-joined values are not split), or undefined. */
  header(name: string): string | undefined;
  /** Every value of a request header, split on commas as HAProxy's hdr() does. */
  headerValues(name: string): string[];
  /** The request body buffered for the rules (http-buffer-request, wait-for-body); undefined when this request buffers none. */
  readonly body?: BufferedBody;
  // ---- response (stage response)
  status(): number;
  responseHeader(name: string): string | undefined;
  /** Every value of a response header, split on commas (res.hdr(), and hdr() in response rules). */
  responseHeaderValues(name: string): string[];
}

/** A request body as the rules see it (src/http/request-body.ts). */
export interface BufferedBody {
  /** Payload bytes buffered (at most the buffer size). */
  readonly length: number;
  /** The whole body is in. */
  readonly complete: boolean;
  /** The buffered payload as a binary sample (latin1). */
  text(): string;
}

/** A client certificate, as HAProxy's `ssl_c_*` fetches give it. */
export interface ClientCertificate {
  /** Distinguished names, one `TYPE=value` per line in certificate order (Node's form). */
  subject: string;
  issuer: string;
  /** SHA-1 of the DER and the serial number, raw bytes as latin1: binary samples, as HAProxy's (`,hex` prints them). */
  sha1: string;
  serial: string;
}
