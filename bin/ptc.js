#!/usr/bin/env node
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
// The command is over and ptc has closed everything of its own. A user's tool handler that ignored its
// aborted signal (a timer it never clears) must not keep the CLI alive for minutes after its summary.
setTimeout(() => process.exit(), 250).unref();
