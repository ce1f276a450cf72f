'use strict';
/**
 * The tslb config a build accepts: bench/lib/configs.js generates every frontend, an older
 * build may reject some (the cache, compression…), so the largest feature set its config
 * loader accepts (`tslb -c`) is used and only the workloads that need a missing one are
 * skipped. Shared by bench/run.js and bench/ab-simultaneous.js (which needs one set both
 * builds accept, so that they run the same config).
 */
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const configs = require('./configs');

/** The frontends (and their spec port names) each optional feature adds; `rules` also covers the rate-limit frontend (the same kind of lines). */
const FEATURES = {
  rules: { frontends: ['fe_rules', 'fe_ratelimit'], ports: ['rules', 'ratelimit'] },
  tls: { frontends: ['fe_tls'], ports: ['tls'] },
  cache: { frontends: ['fe_cache'], ports: ['cache'] },
  comp: { frontends: ['fe_comp'], ports: ['comp'] },
};
/** Frontends every build has. */
const BASIC_PORTS = ['http', 'ws', 'tcp'];
/** Feature sets tried, largest first. */
const ATTEMPTS = [['rules', 'tls', 'cache', 'comp'], ['rules', 'tls', 'cache'], ['rules', 'tls', 'comp'], ['rules', 'tls'], ['tls'], ['rules'], []];

function tslbYaml(spec, features) {
  const dropped = dropFrontends(configs.tslbConfig(spec), Object.keys(FEATURES).filter((f) => !features.includes(f)).flatMap((f) => FEATURES[f].frontends));
  // A build without the cache also rejects the `caches:` section.
  return features.includes('cache') ? dropped : dropped.replace(/^caches:\n(?: {2}.*\n)*/m, '');
}

/** Remove whole `- name: <fe>` frontend items from the generated YAML (generator output is regular). */
function dropFrontends(yamlText, names) {
  const out = [];
  let dropping = false;
  for (const line of yamlText.split('\n')) {
    const item = /^ {2}- name: (\S+)/.exec(line);
    if (item) dropping = names.includes(item[1]);
    else if (/^\S/.test(line)) dropping = false;
    if (!dropping) out.push(line);
  }
  return out.join('\n');
}

/**
 * Writes each build's config (`builds`: [{ node, cli, spec, file }]) for the largest feature
 * set every build's `tslb -c` accepts. Returns { features } (null when none was accepted) and
 * `rejected`, the loaders' complaints about the larger sets.
 */
function writeAcceptedConfig(builds) {
  const rejected = [];
  for (const features of ATTEMPTS) {
    const complaints = [];
    for (const b of builds) {
      fs.writeFileSync(b.file, tslbYaml(b.spec, features));
      const check = spawnSync(b.node, [b.cli, '-c', '-f', b.file], { encoding: 'utf8', timeout: 30000 });
      if (check.status !== 0) complaints.push(`${b.cli}: ${(check.stderr || check.stdout).trim().split('\n').slice(0, 4).join(' | ')}`);
    }
    if (!complaints.length) return { features, rejected };
    rejected.push(`[${features.join('+') || 'basic'}] ${complaints.join(' ;; ')}`);
  }
  return { features: null, rejected };
}

/** The ports a config with `features` listens on. */
function listeningPorts(ports, features) {
  return [...BASIC_PORTS, ...features.flatMap((f) => FEATURES[f].ports)].map((name) => ports[name]);
}

module.exports = { writeAcceptedConfig, listeningPorts };
