/**
 * Schema of the process-wide sections: `global` (workers, tuning, ACME) and `defaults`
 * (what every proxy inherits), HAProxy's global and defaults sections.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_SIZE, MAX_WORKERS } from './limits';
import { Conns, Mode, Retries, RiseFall, Size, Time, TimeoutsSchema, lits, multi, obj, opt } from './schema-values';
import { ErrorFiles, ErrorReplySchema } from './schema-error-pages';
import { LogSchema } from './schema-frontend';
import { BalanceSchema } from './schema-backend';

const CheckDefaultsSchema = obj(
  { inter: opt(Time), fastinter: opt(Time), downinter: opt(Time), rise: opt(RiseFall), fall: opt(RiseFall) },
  'defaults for server checks (HAProxy `default-server inter … rise … fall …`)',
);

const AcmeSchema = obj(
  {
    directory: Type.String({ description: 'the CA\'s ACME directory URL (https://acme-v02.api.letsencrypt.org/directory)' }),
    email: opt(Type.String({ description: 'account contact' })),
    names: Type.Array(Type.String({ description: 'a DNS name of the certificate' }), { minItems: 1 }),
    state_dir: opt(Type.String({ description: 'account key and certificates (mode 600); default global.state_dir (seed proxy_lib), else /var/lib/tslb' })),
    certificate: opt(Type.String({ description: 'the bundle written and served (list it in a TLS bind\'s certificates); default <state_dir>/<first name>.pem' })),
    renew_before_days: opt(Type.Integer({ minimum: 0, maximum: 3650, description: 'days before notAfter (30)' })),
    challenge: opt(lits(['http-01', 'tls-alpn-01'])),
    ca_file: opt(Type.String({ description: 'CAs trusted for the directory\'s HTTPS (a test CA); default the system\'s' })),
  },
  'ACME (RFC 8555): a certificate obtained and renewed by the primary, HTTP-01 answered on the plain binds',
);

export const GlobalSchema = obj({
  workers: opt(multi<string | number>(['string', 'integer'], { minimum: 1, maximum: MAX_WORKERS, pattern: '^auto$' }, 'auto (one per core) or a number')),
  user: opt(Type.String()),
  group: opt(Type.String()),
  pidfile: opt(Type.String()),
  state_dir: opt(Type.String()),
  maxconn: opt(Conns),
  grace_period: opt(Time),
  accept_mode: opt(lits(['auto', 'reuseport', 'rr', 'shared'])),
  buf_size: opt(Size),
  max_rewrite: opt(Size),
  max_headers: opt(Type.Integer({ minimum: 1, maximum: 32767, description: "header lines in one request or response head, HTTP/1 and HTTP/2 (HAProxy's tune.http.maxhdr); more: 431 (default 128)" })),
  log_level: opt(lits(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])),
  access_log: opt(Type.String()),
  h2: opt(
    obj({
      max_concurrent_streams: opt(Type.Integer({ minimum: 1, maximum: 10000, description: "HAProxy's tune.h2.max-concurrent-streams (default 100)" })),
      initial_window_size: opt(multi<string | number>(['string', 'integer'], { minimum: 0, maximum: 2147483647 }, "HAProxy's tune.h2.initial-window-size: bytes, at least 65535 (default 65535)")),
      header_table_size: opt(multi<string | number>(['string', 'integer'], { minimum: 0, maximum: 65536 }, "HAProxy's tune.h2.header-table-size: the HPACK table clients may fill, 4096..65536 bytes (default 4096)")),
      max_header_list_size: opt(multi<string | number>(['string', 'integer'], { minimum: 0, maximum: MAX_SIZE }, 'SETTINGS_MAX_HEADER_LIST_SIZE, checked after HPACK decoding (default 64k)')),
    }),
  ),
  max_comp_rate: opt(Type.Integer({ minimum: 0, maximum: 2097151, description: "HAProxy's maxcomprate: kB/s of response bytes into the compressors of this node (0: no limit); above it, new responses are not compressed and gzip/deflate ones lower their level down to 0 (bytes counted in comp_byp)" })),
  max_comp_cpu_usage: opt(Type.Integer({ minimum: 0, maximum: 100, description: "HAProxy's maxcompcpuusage: a worker busier than this percentage of its time stops compressing new responses and lowers the level of gzip/deflate ones (100: no limit)" })),
  options: opt(Type.Array(Type.String({ description: 'HAProxy global-section line: tune.bufsize, tune.h2.header-table-size, tune.h2.initial-window-size, tune.h2.max-concurrent-streams, tune.http.maxhdr, maxcomprate, maxcompcpuusage' }))),
  cert_watch: opt(Time),
  cert_expiry_warning_days: opt(Type.Integer({ minimum: 0, maximum: 3650, description: 'days' })),
  acme: opt(AcmeSchema),
  localpeer: opt(Type.String({ pattern: '^[A-Za-z0-9_.:-]+$', description: "this node's name in peers sections (HAProxy's localpeer; default the host name)" })),
  ssl_default_dh_param: opt(Type.Integer({ minimum: 1024, maximum: 8192, description: 'bits of the DHE group (HAProxy tune.ssl.default-dh-param): 1024, 1536, 2048, 3072, 4096, 6144 or 8192' })),
});

export const DefaultsSchema = obj({
  mode: opt(Mode),
  errorfiles: opt(ErrorFiles),
  http_error: opt(Type.Array(ErrorReplySchema)),
  timeouts: opt(TimeoutsSchema),
  options: opt(Type.Array(Type.String())),
  log: opt(LogSchema),
  check: opt(CheckDefaultsSchema),
  retries: opt(Retries),
  maxconn: opt(Conns),
  balance: opt(BalanceSchema),
});

export type DefaultsInput = Static<typeof DefaultsSchema>;
export type GlobalInput = Static<typeof GlobalSchema>;
