import type { IsolationReport } from "../protocol/execution.js";
import { DEFAULT_MEMORY_BYTES } from "../protocol/limits.js";

/**
 * What `ptc doctor` states about the machine it runs on: the threat model in one paragraph, each
 * isolation layer and whether it is in force here, and what ptc does not protect against here.
 * SECURITY.md states the same for every platform; this is its machine-specific projection.
 */
export const THREAT_MODEL =
  "Guest code is untrusted: a model wrote it, and the data its tools return may have prompt-injected it. " +
  "It must not reach the host's environment, files, network or processes, other containers, or tools not " +
  "allowed from code, and must not take the server down. Trusted: the host, its configuration, tool " +
  "handlers and the servers behind them, and clients holding an API key (for their own executions).";

export interface ProtectionLayer {
  name: string;
  inForce: boolean;
  /** What the layer removes, or why it is not in force here. */
  detail: string;
}

export interface ThreatStatement {
  threatModel: string;
  layers: ProtectionLayer[];
  /** Threats ptc leaves open on this machine: the general ones, plus those a missing layer opens. */
  notProtected: string[];
  reporting: string;
}

export function threatStatement(isolation: IsolationReport): ThreatStatement {
  const permissionCoversNetwork = Number(isolation.nodeVersion.replace(/^v/, "").split(".")[0]) >= 25;
  const layers: ProtectionLayer[] = [
    {
      name: "child process per container",
      inForce: true,
      detail: "guest code never runs in the host process; SIGKILL of the whole process tree at every deadline",
    },
    {
      name: "bubblewrap namespaces",
      inForce: isolation.bubblewrap,
      detail: isolation.bubblewrap
        ? "no network, own pid/mount/user namespaces, environment cleared, host fs read-only and limited to the runtime"
        : "bwrap missing or unable to create namespaces here (install the `bubblewrap` package)",
    },
    {
      name: `Node ${isolation.nodeVersion} permission model`,
      inForce: true,
      detail: permissionCoversNetwork
        ? "no fs writes, fs reads only of the runtime, no child processes, workers, addons or network"
        : "no fs writes, fs reads only of the runtime, no child processes, workers or addons; NOT the network",
    },
    {
      name: "in-child hardening",
      inForce: true,
      detail: "no code generation from strings; process, require, fetch and pyodide_js removed from guest reach",
    },
    {
      name: "host-side broker",
      inForce: true,
      detail:
        "every tool call checked: exists, allowed from code, input size, JSON and schema; results and errors sanitised",
    },
    {
      name: "limits",
      inForce: true,
      detail: `wall and active time, tool calls, concurrency, output, WebAssembly memory (default ${DEFAULT_MEMORY_BYTES / 1_048_576} MiB)`,
    },
  ];
  const notProtected = [
    "kernel, V8 or WebAssembly runtime exploits, and CPU side channels: sandboxes share the host's kernel (not a VM)",
    "host CPU: deadlines bound each execution's time, but running sandboxes share the cores (no cgroup quota)",
    "misuse of the tools you expose: code may call any tool allowed from code with any valid input",
    "prompt injection carried in the script's output back to the model",
  ];
  if (!isolation.bubblewrap) {
    notProtected.unshift(
      "without bubblewrap the sandbox shares the host's network, pid and mount namespaces: only Node's permission model and the in-child hardening stand between guest code and them",
    );
  }
  if (!isolation.networkBlocked) {
    notProtected.unshift(
      "the NETWORK is reachable from a sandbox here (no bubblewrap, and this Node's permission model does not cover it): run `ptc setup` or install bubblewrap",
    );
  }
  return {
    threatModel: THREAT_MODEL,
    layers,
    notProtected,
    reporting: "see SECURITY.md: report vulnerabilities privately, not in a public issue",
  };
}
