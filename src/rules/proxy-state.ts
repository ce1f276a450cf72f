/**
 * What the fetches about proxies read (`nbsrv`, `be_conn`, `fe_conn`). A worker's
 * runtime installs itself when it is built: one per worker process, as HAProxy's
 * list of proxies is global. Until then every count is 0.
 */
export interface ProxyStates {
  /** Servers of the backend taking new traffic: its usable active servers, else its usable backups (HAProxy's `be_usable_srv`). */
  usableServers(backend: string): number;
  /** Connections on the backend (this worker's, plus the other workers' on its servers as last shared). */
  backendConnections(backend: string): number;
  /** This worker's connections on the frontend. */
  frontendConnections(frontend: string): number;
}

const NONE: ProxyStates = {
  usableServers: () => 0,
  backendConnections: () => 0,
  frontendConnections: () => 0,
};

let states: ProxyStates = NONE;

export function setProxyStates(s: ProxyStates): void {
  states = s;
}

export function proxyStates(): ProxyStates {
  return states;
}
