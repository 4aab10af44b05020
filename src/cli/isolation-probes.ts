/**
 * Live checks `ptc doctor` runs inside a real sandbox, so the isolation it reports is observed,
 * not assumed. Each probe prints `name:blocked` or `name:OPEN`.
 */
export const ISOLATION_PROBE_SCRIPT = `
import js, os, sys
def probe(name, attempt):
    try:
        attempt()
        print(f"{name}:OPEN")
    except BaseException:
        print(f"{name}:blocked")
def _require(): js.process.mainModule.require("fs")
def _env():
    if len(os.environ.get("PATH", "")) > 1 or "HOSTNAME" in os.environ: return
    raise PermissionError()
def _pyodide_js():
    import pyodide_js
def _function(): js.Object.constructor("return 1")()
def _host_file(): open(HOST_FILE).read()
def _subprocess():
    if os.system("true") != 0: raise PermissionError()
probe("js.process", _require)
probe("host environment", _env)
probe("pyodide_js", _pyodide_js)
probe("code from strings", _function)
probe("host file", _host_file)
probe("subprocess", _subprocess)
try:
    from pyodide.http import pyfetch
    await pyfetch(PROBE_URL)
    print("network:OPEN")
except BaseException:
    print("network:blocked")
`;

export function parseProbeOutput(stdout: string): Record<string, "blocked" | "OPEN"> {
  const probes: Record<string, "blocked" | "OPEN"> = {};
  for (const line of stdout.split("\n")) {
    const [name, state] = line.split(":");
    if (name && (state === "blocked" || state === "OPEN")) probes[name] = state;
  }
  return probes;
}
