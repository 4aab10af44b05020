import { cpus, loadavg, release, totalmem } from "node:os";
import type { Engine } from "../src/engine/engine.js";

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  hostNode: string;
  sandboxNode: string;
  isolation: string;
  bubblewrap: boolean;
  stackSwitching: boolean;
  pyodide: string;
  /** Other work on the machine makes every figure noisier. */
  loadAverageAtStart: number;
}

export function describeMachine(engine: Pick<Engine, "isolation">, loadAverageAtStart: number): MachineInfo {
  const processors = cpus();
  const { isolation } = engine;
  return {
    cpus: processors.length,
    cpuModel: processors[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: `${process.platform} ${release()}`,
    hostNode: process.version,
    sandboxNode: isolation.nodeVersion,
    isolation: isolation.level,
    bubblewrap: isolation.bubblewrap,
    stackSwitching: isolation.stackSwitching,
    pyodide: isolation.runtime,
    loadAverageAtStart,
  };
}

export function formatMachine(machine: MachineInfo): string {
  return [
    `machine:   ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.kernel}, load average ${machine.loadAverageAtStart.toFixed(2)} at start`,
    `node:      host ${machine.hostNode}, sandbox ${machine.sandboxNode}`,
    `isolation: ${machine.isolation} (bubblewrap ${machine.bubblewrap ? "on" : "off"}, stack switching ${machine.stackSwitching ? "on" : "off"}), ${machine.pyodide}`,
  ].join("\n");
}

export function currentLoadAverage(): number {
  return loadavg()[0] ?? 0;
}
