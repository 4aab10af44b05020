// `npm test`'s runner: every test file under test/ (each its own process, with its own sandboxes), in two
// phases. Most files run two at a time (the machines here have 2 cores; a file mostly waits on sandboxes
// and sockets). The adversarial suite then runs one file at a time, alone: its cases measure the host
// itself (event-loop lag, RSS growth, a 200-request burst, processes left behind) and would measure the
// other files' load instead. The packed-package test and the several-nodes test run alone too
// (SERIAL_FILES). Arguments, if any, are extra flags for node --test (e.g. --test-name-pattern).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const CONCURRENCY = Number(process.env.PTC_TEST_CONCURRENCY ?? 2);
const SERIAL_DIRECTORY = join("test", "adversarial");
const SERIAL_FILES = [
  // Packs the repository, and `npm pack` runs `prepack`, which rebuilds dist/ under the CLI tests' feet.
  join("test", "package", "package-install.test.ts"),
  // Four `ptc serve` nodes on 1.5 s leases (SIGSTOP past a lease, takeovers): another file's load delays
  // their heartbeats past the lease, and every step then waits out 503s.
  join("test", "server", "durable", "executions-nodes.test.ts"),
];

function testFiles(directory) {
  return readdirSync(directory, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) return entry.name === "fixtures" ? [] : testFiles(path);
      return entry.name.endsWith(".test.ts") ? [path] : [];
    })
    .sort();
}

const all = testFiles("test");
const serial = all.filter((file) => file.startsWith(`${SERIAL_DIRECTORY}/`) || SERIAL_FILES.includes(file));
const parallel = all.filter((file) => !serial.includes(file));

function run(files, concurrency) {
  const flags = ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, "--test-timeout=180000"];
  const { status, signal } = spawnSync(process.execPath, [...flags, ...process.argv.slice(2), ...files], {
    stdio: "inherit",
  });
  return signal ? 1 : (status ?? 1);
}

const failed = [run(parallel, CONCURRENCY), run(serial, 1)].some((status) => status !== 0);
process.exitCode = failed ? 1 : 0;
