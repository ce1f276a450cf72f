/**
 * Schema of the seed document's Proxy shape (`proxy:`), which src/config/seed.ts turns
 * into the native sections. Apart because it mirrors another document's layout, not
 * tslb's own.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_INT, MAX_SIZE } from './limits';
import { Condition, Conns, Mode, Name, Port, RiseFall, StrList, Time, TimeoutsSchema, Vrrp, Workers, multi, obj, opt } from './schema-values';
import { RedirectCode } from './schema-http-rules';

const SeedBackendSchema = obj({
  name: Name,
  ssl_sni: opt(Type.String()),
  mode: opt(Mode),
  balance: opt(Type.String()),
  option: opt(Type.String()),
  server_name: Name,
  server_host_ip: Type.String({ minLength: 1 }),
  server_port: Port,
  server_ops: opt(Type.String()),
});

export const SeedSchema = obj(
  {
    proxy_version: opt(Type.String()),
    proxy_lib: opt(Type.String()),
    proxy_cfg_file: opt(Type.String()),
    run_user: opt(Type.String()),
    run_group: opt(Type.String()),
    run_user_home: opt(Type.String()),
    https_in_binds: opt(
      Type.Array(obj({ ip: Type.String({ minLength: 1 }), port: Port, ssl: opt(Type.Boolean()), accept_proxy: opt(Type.Boolean()) })),
    ),
    https_options: opt(StrList),
    https_log_format: opt(Type.String()),
    backends: opt(Type.Array(SeedBackendSchema)),
    routing_rules: opt(Type.Array(obj({ condition: Condition, backend: Name }))),
    tcp_services: opt(Type.Array(obj({ bind_port: Port, backend: Name }))),
    ssl: opt(
      obj({
        enabled: opt(Type.Boolean()),
        certificate_path: opt(Type.String()),
        certificate_file: opt(Type.String()),
        protocols: opt(Type.String({ description: 'space-separated TLS versions, e.g. "TLSv1.2 TLSv1.3"' })),
        ciphers: opt(Type.String()),
        redirect_http_to_https: opt(Type.Boolean()),
        redirect_code: opt(RedirectCode),
        hsts_enabled: opt(Type.Boolean()),
        hsts_max_age: opt(Type.Integer({ minimum: 0, maximum: MAX_INT, description: 'seconds' })),
        hsts_include_subdomains: opt(Type.Boolean()),
        hsts_preload: opt(Type.Boolean()),
      }),
    ),
    performance: opt(
      obj({
        maxconn: opt(Conns),
        nbproc: opt(Workers),
        cpu_map: opt(Type.String()),
        tune_ssl_default_dh_param: opt(Type.Integer({ minimum: 1024, maximum: 16384, description: 'bits' })),
        tune_bufsize: opt(Type.Integer({ minimum: 1, maximum: MAX_SIZE })),
        tune_maxrewrite: opt(Type.Integer({ minimum: 0, maximum: MAX_SIZE })),
      }),
    ),
    ha_config: opt(
      obj({
        keepalived: opt(
          obj({
            enabled: opt(Type.Boolean()),
            virtual_ip: opt(Type.String()),
            interface: opt(Type.String()),
            priority: opt(Vrrp),
            advert_int: opt(Vrrp),
            auth_pass: opt(Type.String()),
            virtual_router_id: opt(Vrrp),
          }),
        ),
        peers: opt(Type.Array(obj({ name: Name, ip: Type.String(), port: opt(Port) }))),
        peers_secret: opt(Type.String({ minLength: 16, description: 'tslb addition: the shared secret of the peers connections' })),
        stick_tables: opt(multi<boolean | Record<string, unknown>>(['boolean', 'object'], {}, 'true, or stick-table settings')),
        session_synchronization: opt(Type.Boolean()),
      }),
    ),
    monitoring: opt(
      obj({
        stats: opt(
          obj({
            enabled: opt(Type.Boolean()),
            bind_ip: opt(Type.String()),
            bind_port: opt(Port),
            uri: opt(Type.String()),
            username: opt(Type.String({ minLength: 1, description: 'stats page login, with password (both or neither)' })),
            password: opt(Type.String({ minLength: 1 })),
            refresh: opt(Time),
            admin: opt(Type.Boolean()),
          }),
        ),
        prometheus: opt(obj({ enabled: opt(Type.Boolean()), bind_ip: opt(Type.String()), bind_port: opt(Port), uri: opt(Type.String()) })),
        health_checks: opt(
          obj({
            enabled: opt(Type.Boolean()),
            log_health_checks: opt(Type.Boolean()),
            email_alerts: opt(Type.String()),
            interval: opt(Time),
            rise: opt(RiseFall),
            fall: opt(RiseFall),
            timeout: opt(Time),
          }),
        ),
      }),
    ),
    timeouts: opt(TimeoutsSchema),
  },
  "the seed document's Proxy shape",
);

export type SeedProxy = Static<typeof SeedSchema>;
