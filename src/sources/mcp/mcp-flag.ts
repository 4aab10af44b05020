import type { McpServerConfig } from "../../config/ptc-config.js";

/**
 * `--mcp VALUE` → a named MCP server config. VALUE is an http(s) URL (a streamable HTTP server) or a
 * command line, split like a POSIX shell would (quotes and backslashes; no variables, globs or
 * pipes). An optional `name=` prefix names the server (`--mcp "fs=npx -y @scope/server-filesystem /data"`);
 * otherwise the name comes from the package or command (`@modelcontextprotocol/server-filesystem` →
 * `filesystem`) or, for a URL, from the host (`https://mcp.example.com/mcp` → `example`).
 */
export function parseMcpFlag(value: string): [name: string, config: McpServerConfig] {
  const named = /^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/s.exec(value.trim());
  const explicitName = named?.[1];
  const rest = (named?.[2] ?? value).trim();
  if (/^https?:\/\//i.test(rest)) {
    let url: URL;
    try {
      url = new URL(rest);
    } catch {
      throw new Error(`--mcp: not a valid URL: ${JSON.stringify(rest)}`);
    }
    return [explicitName ?? nameFromHost(url.hostname), { url: url.href }];
  }
  const words = splitCommandLine(rest);
  const [command, ...args] = words;
  if (command === undefined) throw new Error("--mcp: expected a command line or an http(s) URL");
  return [explicitName ?? nameFromCommand(command, args), args.length > 0 ? { command, args } : { command }];
}

/** Splits a command line into words the way `sh` does for quotes and backslashes. */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const char = line[i] as string;
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word += char;
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1] as string)) word += line[++i];
      else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (char === "\\") {
      if (i + 1 < line.length) word += line[++i];
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new Error(`--mcp: unterminated ${quote} quote in ${JSON.stringify(line)}`);
  if (inWord) words.push(word);
  return words;
}

/** Launchers whose first non-option argument is the server itself. */
const LAUNCHERS = new Set(["npx", "bunx", "pnpx", "pnpm", "yarn", "uvx", "uv", "pipx", "node", "bun", "deno", "tsx"]);
const LAUNCHER_SUBCOMMANDS = new Set(["run", "dlx", "exec", "x", "tool"]);
const PYTHONS = /^python[0-9.]*$/;
/** Host labels that say nothing about which server it is. */
const GENERIC_LABELS = new Set(["mcp", "api", "www", "server", "servers", "app", "remote"]);
/** File names that say nothing either: use their directory (or package) instead. */
const GENERIC_FILES = new Set(["index", "main", "server", "cli", "stdio", "__main__"]);
const BUILD_DIRECTORIES = new Set(["dist", "build", "lib", "src", "bin", "out"]);

/** `@modelcontextprotocol/server-filesystem` → `filesystem`, `mcp-server-fetch` → `fetch`, `./weather.py` → `weather`. */
export function nameFromCommand(command: string, args: readonly string[]): string {
  let subject = command;
  const base = lastSegment(command).replace(/\.(exe|cmd)$/i, "");
  if (base === "docker" || base === "podman") {
    subject = containerImage(args) ?? subject;
  } else if (LAUNCHERS.has(base) || PYTHONS.test(base)) {
    const moduleFlag = args.indexOf("-m");
    const candidate =
      PYTHONS.test(base) && moduleFlag >= 0
        ? args[moduleFlag + 1]
        : args.find((arg) => !arg.startsWith("-") && !LAUNCHER_SUBCOMMANDS.has(arg));
    if (candidate !== undefined) subject = candidate;
  }
  return toIdentifier(stripServerWords(packageOrFileName(subject)));
}

/** Options of `docker run` that take a value, so the value is not mistaken for the image. */
const DOCKER_VALUED = new Set([
  "-e",
  "--env",
  "--env-file",
  "-v",
  "--volume",
  "--mount",
  "--name",
  "-p",
  "--publish",
  "--network",
  "-w",
  "--workdir",
  "-u",
  "--user",
  "--entrypoint",
  "-l",
  "--label",
  "--platform",
  "--pull",
]);

/** `docker run -i --rm -e TOKEN ghcr.io/github/github-mcp-server:v1` → `ghcr.io/github/github-mcp-server`. */
function containerImage(args: readonly string[]): string | undefined {
  const run = args.indexOf("run");
  for (let i = run + 1; i < args.length; i++) {
    const arg = args[i] as string;
    if (DOCKER_VALUED.has(arg)) i++;
    else if (!arg.startsWith("-")) return arg.replace(/@sha256:.*$/, "").replace(/:[^/:]*$/, "");
  }
  return undefined;
}

/** `mcp.example.com` → `example`, `localhost` → `localhost`. */
export function nameFromHost(hostname: string): string {
  const labels = hostname.replace(/^\[|\]$/g, "").split(".");
  const meaningful = labels.length > 1 ? labels.slice(0, -1) : labels;
  const label = meaningful.find((part) => !GENERIC_LABELS.has(part.toLowerCase())) ?? labels[0] ?? "";
  return toIdentifier(label);
}

function lastSegment(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** A package spec (`@scope/name@1.2`, `name==1.0`) or a path to a script → the bare name. */
function packageOrFileName(subject: string): string {
  const inModules = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(subject);
  if (inModules?.[1] !== undefined) return lastSegment(inModules[1]);
  if (/[\\/]/.test(subject) && !subject.startsWith("@")) {
    const parts = subject.split(/[\\/]/).filter((part) => part !== "" && part !== "." && part !== "..");
    let name = (parts.pop() ?? subject).replace(/\.[A-Za-z0-9]+$/, "");
    while (GENERIC_FILES.has(name) || BUILD_DIRECTORIES.has(name)) {
      const parent = parts.pop();
      if (parent === undefined) break;
      name = parent;
    }
    return name;
  }
  // Version pins: `pkg@1.2.3`, `@scope/pkg@latest`, `pkg==1.0` (uvx), `pkg[extra]`.
  const bare = subject.replace(/(.)@.*$/, "$1").replace(/(==|>=|<=|~=|\[).*$/, "");
  return lastSegment(bare).replace(/\.(m?[jt]s|py)$/, "");
}

function stripServerWords(name: string): string {
  const stripped = name
    .replace(/^(mcp[-_]server[-_]|server[-_]mcp[-_]|mcp[-_]|server[-_])/i, "")
    .replace(/([-_]mcp[-_]server|[-_]server[-_]mcp|[-_]mcp|[-_]server)$/i, "");
  return stripped === "" ? name : stripped;
}

/** Letters, digits and single underscores, starting with a letter: a clean tool-name prefix. */
function toIdentifier(text: string): string {
  const name = text.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  if (name === "") return "mcp";
  return /^[0-9]/.test(name) ? `mcp_${name}` : name;
}
