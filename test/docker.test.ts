/**
 * docker/ without a Docker engine (none runs here; the image build is not tested).
 * The image's ENTRYPOINT and CMD, as the Dockerfile writes them, run here against the
 * image's config with compose's demo backends run from their compose commands: binds move
 * to free loopback ports and compose's service names to 127.0.0.1, nothing else changes.
 * Its HEALTHCHECK command must pass and its STOPSIGNAL stop it. compose.yaml's references
 * must hold, and promtool must accept prometheus.yml.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { exchange } from './helpers/rawhttp';
import { freePort, tempDir } from './helpers/tslb';

const ROOT = path.resolve(__dirname, '../..');
const DOCKER = path.join(ROOT, 'docker');
const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

interface Instruction {
  keyword: string;
  args: string;
}

/** The final stage's instructions (continuation lines joined, comments dropped). */
function finalStage(): Instruction[] {
  const text = readFileSync(path.join(DOCKER, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const all = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [keyword, ...rest] = l.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
  return all.slice(all.map((i) => i.keyword).lastIndexOf('FROM'));
}

function instruction(stage: Instruction[], keyword: string): string {
  const found = stage.filter((i) => i.keyword === keyword);
  assert.equal(found.length, 1, `one ${keyword} in the final stage`);
  return found[0].args;
}

/** An exec-form (JSON array) command: shell form would put /bin/sh, not tslb, at PID 1. */
function execForm(args: string): string[] {
  const words: unknown = JSON.parse(args);
  assert.ok(Array.isArray(words) && words.every((w) => typeof w === 'string'), `exec form: ${args}`);
  return words as string[];
}

interface ComposeService {
  build?: { context: string; dockerfile: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: string[];
}

function compose(): Record<string, ComposeService> {
  // merge: the demo backends share one definition through a YAML merge key, as Docker Compose reads them.
  return (parseYaml(readFileSync(path.join(DOCKER, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> }).services;
}

interface ImageConfig {
  frontends: { binds: string[]; monitor_uri?: string }[];
  backends: { servers: { address: string; port: number }[] }[];
  stats?: { bind: string };
  prometheus: { bind: string; uri: string };
}

const imageConfig = () => parseYaml(readFileSync(path.join(DOCKER, 'lb.yaml'), 'utf8')) as ImageConfig;
const portOf = (bind: string) => Number(bind.split(':').pop());

function waitListening(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve()));
      s.once('error', () => (Date.now() > deadline ? reject(new Error(`nothing listens on ${port}`)) : setTimeout(attempt, 50)));
    };
    attempt();
  });
}

function stopped(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));
}

test('the Dockerfile runs node:26-slim as a non-root user, exposes what the image config binds, in exec form', () => {
  const text = readFileSync(path.join(DOCKER, 'Dockerfile'), 'utf8');
  const bases = [...text.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  assert.ok(bases.length >= 2, 'multi-stage');
  for (const base of bases) assert.equal(base, 'node:26-slim');
  const stage = finalStage();
  assert.ok(!['root', '0'].includes(instruction(stage, 'USER')));
  const config = imageConfig();
  const bound = [...config.frontends.flatMap((f) => f.binds), config.stats?.bind, config.prometheus.bind].filter((b): b is string => !!b);
  assert.deepEqual(new Set(instruction(stage, 'EXPOSE').split(' ').map(Number)), new Set(bound.map(portOf)));
  assert.equal(instruction(stage, 'STOPSIGNAL'), 'SIGTERM');
  execForm(instruction(stage, 'ENTRYPOINT'));
  execForm(instruction(stage, 'CMD'));
});

test("the image's entrypoint runs here on the image's config: compose's backends answer through it, its HEALTHCHECK passes, its STOPSIGNAL stops it", async (t) => {
  const stage = finalStage();
  const workdir = instruction(stage, 'WORKDIR');
  // COPY docker/lb.yaml /etc/tslb/lb.yaml: the image's config.
  const configCopy = stage.find((i) => i.keyword === 'COPY' && i.args.startsWith('docker/lb.yaml '));
  assert.ok(configCopy, 'the Dockerfile copies docker/lb.yaml into the image');
  const imageConfigPath = configCopy.args.split(' ')[1];

  // The image's config on loopback: every bind on a free port, compose's service names on 127.0.0.1.
  const config = imageConfig();
  const localPorts = new Map<number, number>();
  const localBind = async (bind: string) => {
    const port = await freePort();
    localPorts.set(portOf(bind), port);
    return `127.0.0.1:${port}`;
  };
  for (const f of config.frontends) f.binds = await Promise.all(f.binds.map(localBind));
  if (config.stats) config.stats.bind = await localBind(config.stats.bind);
  config.prometheus.bind = await localBind(config.prometheus.bind);

  // Compose's demo backends, each from its compose command and environment, on a free port.
  const services = compose();
  const backendNames: string[] = [];
  for (const server of config.backends.flatMap((b) => b.servers)) {
    const service = services[server.address];
    assert.ok(service?.command, `server ${server.address} is a compose service with a command`);
    const port = await freePort();
    const [cmd, ...args] = service.command;
    const backend = spawn(cmd === 'node' ? process.execPath : cmd, args, { env: { ...process.env, ...service.environment, PORT: String(port) }, stdio: 'ignore' });
    t.after(() => backend.kill());
    await waitListening(port);
    backendNames.push(service.environment!.NAME);
    server.address = '127.0.0.1';
    server.port = port;
  }
  const configFile = path.join(tempDir(), 'lb.yaml');
  writeFileSync(configFile, stringifyYaml(config));

  // ENTRYPOINT + CMD with the image's paths mapped here: WORKDIR is the package root, the config the loopback copy.
  const local = (word: string) => (word === 'node' ? process.execPath : word === imageConfigPath ? configFile : word.startsWith(workdir + '/') ? path.join(ROOT, word.slice(workdir.length)) : word);
  const [cmd, ...args] = [...execForm(instruction(stage, 'ENTRYPOINT')), ...execForm(instruction(stage, 'CMD'))].map(local);
  let output = '';
  const lb = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  lb.stdout!.on('data', (d) => (output += d));
  lb.stderr!.on('data', (d) => (output += d));
  t.after(() => lb.kill('SIGKILL'));

  // HEALTHCHECK [options] CMD [...]: Docker runs it until it passes; its address is the one the config binds.
  const healthArgs = instruction(stage, 'HEALTHCHECK');
  const health = execForm(healthArgs.slice(healthArgs.indexOf('CMD ') + 4)).map((w) =>
    local(w).replace(/127\.0\.0\.1:(\d+)/g, (_, port: string) => {
      assert.ok(localPorts.has(Number(port)), `the HEALTHCHECK's port ${port} is one the image config binds`);
      return `127.0.0.1:${localPorts.get(Number(port))}`;
    }),
  );
  const monitored = imageConfig().frontends[0];
  assert.ok(health.some((w) => w.includes(`:${localPorts.get(portOf(monitored.binds[0]))}${monitored.monitor_uri}'`)), `the HEALTHCHECK asks the frontend's monitor-uri: ${health.join(' ')}`);
  let healthy = false;
  for (const deadline = Date.now() + 20_000; !healthy && Date.now() < deadline && lb.exitCode === null; ) {
    healthy = spawnSync(health[0], health.slice(1), { stdio: 'ignore', timeout: 3000 }).status === 0;
    if (!healthy) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(healthy, `the HEALTHCHECK passes once tslb runs; output:\n${output}`);

  const frontendPort = localPorts.get(portOf(imageConfig().frontends[0].binds[0]))!;
  const answered = new Set<string>();
  for (let i = 0; i < 20 && answered.size < backendNames.length; i++) {
    const r = await exchange(frontendPort, Buffer.from('GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n'));
    assert.equal(r.responses[0]?.status, 200, r.received.toString());
    answered.add(r.responses[0].body.toString().trim());
  }
  assert.deepEqual([...answered].sort(), backendNames.sort());

  lb.kill(instruction(stage, 'STOPSIGNAL') as NodeJS.Signals);
  const timer = setTimeout(() => lb.kill('SIGKILL'), 15_000);
  assert.equal(await stopped(lb), 0, output);
  clearTimeout(timer);
});

test("compose.yaml's services name files that exist and agree with lb.yaml and prometheus.yml", () => {
  const services = compose();
  const tslb = services.tslb;
  assert.ok(tslb?.build, 'compose builds the tslb image');
  const context = path.resolve(DOCKER, tslb.build.context);
  assert.equal(context, ROOT);
  assert.ok(existsSync(path.join(context, tslb.build.dockerfile)), tslb.build.dockerfile);
  for (const [name, service] of Object.entries(services)) {
    for (const volume of service.volumes ?? []) {
      const [host] = volume.split(':');
      assert.ok(existsSync(path.resolve(DOCKER, host)), `${name}: ${host} exists`);
    }
    for (const dep of service.depends_on ?? []) assert.ok(services[dep], `${name} depends on a service: ${dep}`);
  }
  const configCopy = finalStage().find((i) => i.keyword === 'COPY' && i.args.startsWith('docker/lb.yaml '))!;
  assert.ok(tslb.volumes?.includes(`./lb.yaml:${configCopy.args.split(' ')[1]}:ro`), "compose mounts lb.yaml where the image's config is");

  const config = imageConfig();
  for (const server of config.backends.flatMap((b) => b.servers)) {
    assert.equal(services[server.address]?.environment?.PORT, String(server.port), `${server.address} listens where lb.yaml sends`);
  }
  const scrape = (parseYaml(readFileSync(path.join(DOCKER, 'prometheus.yml'), 'utf8')) as { scrape_configs: { static_configs: { targets: string[] }[]; metrics_path: string }[] }).scrape_configs[0];
  assert.deepEqual(scrape.static_configs[0].targets, [`tslb:${portOf(config.prometheus.bind)}`]);
  assert.equal(scrape.metrics_path, config.prometheus.uri);
  assert.ok(services.prometheus?.volumes?.includes('./prometheus.yml:/etc/prometheus/prometheus.yml:ro'));
});

test('promtool accepts docker/prometheus.yml', { skip: !hasPromtool && 'promtool not installed (Debian package prometheus)' }, () => {
  const r = spawnSync('promtool', ['check', 'config', path.join(DOCKER, 'prometheus.yml')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
