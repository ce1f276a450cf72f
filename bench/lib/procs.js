'use strict';
/**
 * Process helpers for the benchmark: start pinned (taskset) processes, measure the
 * CPU time and memory of a whole process tree from /proc, wait for ports, stop.
 */
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** Every pid in the tree rooted at `root` (root included), from /proc/<pid>/task/<tid>/children. */
function treePids(root) {
  const out = [];
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop();
    let tids;
    try {
      tids = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // exited
    }
    out.push(pid);
    for (const tid of tids) {
      let children = '';
      try {
        children = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of children.split(' ')) if (c.trim()) stack.push(Number(c));
    }
  }
  return out;
}

/** utime+stime (all threads) of one process, in ms; 0 when it is gone. */
function processCpuMs(pid) {
  let stat;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // Fields after the command name, which may itself contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** CPU ms consumed so far by the tree, keyed by pid so exited/forked processes can be reconciled. */
function treeCpuSnapshot(root) {
  const snap = new Map();
  for (const pid of treePids(root)) snap.set(pid, processCpuMs(pid));
  return snap;
}

/** CPU ms the tree used between two snapshots (processes born in between count from 0). */
function cpuDeltaMs(before, after) {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/** Sum of VmRSS and VmHWM (peak) over the tree, in KiB. */
function treeMemory(root) {
  let rssKiB = 0;
  let hwmKiB = 0;
  const pids = treePids(root);
  for (const pid of pids) {
    let status;
    try {
      status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue;
    }
    const rss = /VmRSS:\s+(\d+)/.exec(status);
    const hwm = /VmHWM:\s+(\d+)/.exec(status);
    if (rss) rssKiB += Number(rss[1]);
    if (hwm) hwmKiB += Number(hwm[1]);
  }
  return { rssKiB, hwmKiB, processes: pids.length };
}

/**
 * Start `cmd args` pinned to `cpus` with taskset, in its own process group (so the
 * whole group can be stopped by its id). Output goes to `logFile`.
 */
function startPinned(name, cpus, cmd, args, { logFile, env, cwd } = {}) {
  const fd = logFile ? fs.openSync(logFile, 'a') : 'ignore';
  const child = spawn('taskset', ['-c', cpus, cmd, ...args], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...env },
    cwd,
    detached: true,
  });
  if (typeof fd === 'number') fs.closeSync(fd);
  const proc = { name, child, pid: child.pid, exited: false, exitCode: null, logFile };
  child.on('exit', (code, signal) => {
    proc.exited = true;
    proc.exitCode = code ?? signal;
  });
  return proc;
}

/** SIGTERM the process group, then SIGKILL after `graceMs`; resolves when the leader exited. */
async function stopProc(proc, graceMs = 3000) {
  if (!proc || proc.exited) return;
  const gone = new Promise((r) => proc.child.once('exit', r));
  try {
    process.kill(-proc.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = new Promise((r) => setTimeout(r, graceMs, 'timeout'));
  if ((await Promise.race([gone, timer])) === 'timeout') {
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    await Promise.race([gone, new Promise((r) => setTimeout(r, 1000))]);
  }
}

function connectOnce(port, host) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Wait until every port accepts a TCP connection, or throw after `timeoutMs`. */
async function waitPorts(ports, proc, timeoutMs = 15000, host = '127.0.0.1') {
  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    for (;;) {
      if (proc && proc.exited) throw new Error(`${proc.name} exited (${proc.exitCode}) before port ${port} opened; see ${proc.logFile}`);
      if (await connectOnce(port, host)) break;
      if (Date.now() > deadline) throw new Error(`port ${port} of ${proc ? proc.name : '?'} did not open within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Free TCP ports on loopback (bound to 0, then released). */
async function freePorts(n) {
  const servers = [];
  const ports = [];
  for (let i = 0; i < n; i++) {
    const s = net.createServer();
    await new Promise((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
    ports.push(s.address().port);
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * Run a command to completion (pinned), killing it after `timeoutMs`; resolves with
 * its stdout/stderr and exit code. Every load run goes through here, so none is unbounded.
 */
function runPinned(cpus, cmd, args, { timeoutMs, env } = {}) {
  return new Promise((resolve) => {
    const child = spawn('taskset', ['-c', cpus, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = {
  treePids,
  treeCpuSnapshot,
  cpuDeltaMs,
  treeMemory,
  startPinned,
  stopProc,
  waitPorts,
  freePorts,
  runPinned,
  sleep,
};
