/**
 * The JSON Schema of a tslb config file (native format and the seed's `proxy:`
 * shape), written with TypeBox so the static types of the parsed file and the
 * published schema (config/tslb.schema.json) come from one definition. This file
 * puts the top-level sections together; each section's schema and input types are
 * in its own schema-*.ts file (schema-values.ts holds the shared building blocks).
 */
import { Type, type Static } from '@sinclair/typebox';
import { opt } from './schema-values';
import { GlobalSchema, DefaultsSchema } from './schema-global';
import { FrontendSchema } from './schema-frontend';
import { BackendSchema } from './schema-backend';
import { MailersSchema, PrometheusSchema, RuntimeApiSchema, StatsSchema } from './schema-services';
import { CacheSchema, PeersSchema, ResolversSchema, UserlistSchema } from './schema-sections';
import { HttpErrorsSchema } from './schema-error-pages';
import { SeedSchema } from './schema-seed';

export const ConfigFileSchema = Type.Object(
  {
    global: opt(GlobalSchema),
    defaults: opt(DefaultsSchema),
    frontends: opt(Type.Array(FrontendSchema)),
    backends: opt(Type.Array(BackendSchema)),
    runtime_api: opt(RuntimeApiSchema),
    stats: opt(StatsSchema),
    prometheus: opt(PrometheusSchema),
    mailers: opt(MailersSchema),
    resolvers: opt(Type.Array(ResolversSchema)),
    peers: opt(Type.Array(PeersSchema)),
    userlists: opt(Type.Array(UserlistSchema)),
    caches: opt(Type.Array(CacheSchema)),
    http_errors: opt(Type.Array(HttpErrorsSchema)),
    proxy: opt(SeedSchema),
  },
  { additionalProperties: false, title: 'tslb configuration', $id: 'https://github.com/tslb/tslb/config/tslb.schema.json' },
);

export type ConfigFile = Static<typeof ConfigFileSchema>;
/** The native part of a file (everything but `proxy:`), which the seed adapter also produces. */
export type NativeConfig = Omit<ConfigFile, 'proxy'>;
