/**
 * Model types of TLS: the certificates and options of a TLS bind, and a server's TLS options.
 */
export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export interface TlsCertificate {
  /** PEM text of the certificate chain. */
  cert: string;
  /** PEM text of the private key. */
  key: string;
  /** Host names from the certificate's SAN/CN, for SNI selection. */
  names: string[];
  /** File it was read from. */
  source: string;
  /** OCSP response stapled for it (base64 of the DER), from `<source>.ocsp` as HAProxy's. */
  ocsp?: string;
}

export interface TlsBindOptions {
  certificates: TlsCertificate[];
  minVersion: TlsVersion;
  maxVersion: TlsVersion;
  /** OpenSSL cipher list for TLS ≤ 1.2. */
  ciphers?: string;
  /** TLS 1.3 cipher suites. */
  ciphersuites?: string;
  alpn: string[];
  /** Client certificates: `none` asks for none; `optional` asks and verifies one if given; `required` also refuses a client without. */
  verify: 'none' | 'optional' | 'required';
  /** PEM CAs that client certificates must chain to (with verify optional|required). */
  ca?: string;
  /** PEM CRLs checked for every certificate of a client's chain. */
  crl?: string;
  /** ECDHE groups (`curves`, or `ecdhe`'s one), OpenSSL's list syntax; unset: Node's default. */
  curves?: string;
  /** DH parameters (PEM) for DHE suites, from global.ssl_default_dh_param; unset: no DHE. */
  dhparam?: string;
}

export interface ServerTlsOptions {
  enabled: boolean;
  /** SNI sent to the server (from `sni` server option or the backend's ssl_sni). */
  sni?: string;
  verify: 'none' | 'required';
  /** PEM CA bundle when verify is required. */
  ca?: string;
  /** `crt`: the client certificate (PEM chain) and its key, for servers that ask for one. */
  cert?: string;
  key?: string;
  /** `ssl-min-ver` / `ssl-max-ver`; unset: Node's defaults (TLSv1.2..TLSv1.3). */
  minVersion?: TlsVersion;
  maxVersion?: TlsVersion;
  /** `alpn`: protocols offered to the server. */
  alpn?: string[];
}
