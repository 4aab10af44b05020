import assert from "node:assert/strict";
import { after, test } from "node:test";
import { watchStdFds } from "../../src/sandbox/pyodide/child-std-fds.js";
import { testEngine } from "../helpers/engine.js";

// A run's end opens fds 0-2 again only when the run changed one of them (src/sandbox/pyodide/child-std-fds.ts).

test("the watch says intact only for the very streams, flags and files it recorded", () => {
  const node = {};
  const stream = (flags = 1) => ({ flags, node });
  const fs = { streams: [stream(0), stream(), stream()] as Array<ReturnType<typeof stream> | null> };
  const watch = watchStdFds(fs);
  assert.equal(watch.stdFdsIntact(), false, "nothing recorded yet: open them");
  watch.recordStdFds();
  assert.equal(watch.stdFdsIntact(), true);
  const recorded = fs.streams[1] as ReturnType<typeof stream>;
  fs.streams[1] = stream();
  assert.equal(watch.stdFdsIntact(), false, "another open file on fd 1 (dup2, or closed and opened again)");
  fs.streams[1] = recorded;
  recorded.flags = 1025;
  assert.equal(watch.stdFdsIntact(), false, "its flags changed (fcntl)");
  recorded.flags = 1;
  recorded.node = {};
  assert.equal(watch.stdFdsIntact(), false, "another file");
  recorded.node = node;
  fs.streams[2] = null;
  assert.equal(watch.stdFdsIntact(), false, "fd 2 closed");
  fs.streams[2] = stream();
  watch.recordStdFds();
  assert.equal(watch.stdFdsIntact(), true);
});

const engine = testEngine();
after(() => engine.close());

test("a container's next run prints after a run reopened fd 1 read-only, changed its flags or redirected it", async () => {
  const container = "std-fds";
  const run = (code: string) => engine.execute({ code, container }).result;
  assert.equal((await run("print('first')")).stdout, "first\n");
  const breaking = [
    "import os\nos.close(1)\nassert os.open('/dev/stdout', os.O_RDONLY) == 1",
    "import os, fcntl\nfcntl.fcntl(1, fcntl.F_SETFL, os.O_APPEND | os.O_NONBLOCK)",
    "import os\nos.dup2(os.open('/tmp/sink', os.O_WRONLY | os.O_CREAT), 1)",
    "import os\nos.close(0)\nos.close(1)\nos.close(2)",
  ];
  for (const [index, code] of breaking.entries()) {
    const broken = await run(code);
    assert.equal(broken.status, "completed", `${code}: ${JSON.stringify(broken.error)}`);
    const next = await run(`print('after ${index}')`);
    assert.equal(next.stdout, `after ${index}\n`, code);
    // Unchanged since: the run after that one prints too.
    assert.equal((await run("print('again')")).stdout, "again\n");
  }
});
