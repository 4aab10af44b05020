/**
 * Redaction of tool error messages before they leave the host. A handler's error message goes to the
 * script (hence the model), the execution's record, SSE events and logs; handlers often wrap errors
 * from HTTP clients, database drivers or SDKs whose messages carry credentials, URLs with passwords and
 * stack traces. Every failure a tool reports passes through `redactSecrets` once, where it is turned
 * into a tool failure (the broker, direct calls).
 *
 * What it catches: the token shapes below, `name=value` / `name: value` pairs whose name says
 * secret, the values of host environment variables whose name says secret, host stack frames and the
 * host's working directory.
 *
 * What it does not catch (best effort, not a guarantee): a secret without a recognisable shape or name
 * ("the password is hunter2", a bare 32-character hex key); a secret split, encoded (base64, URL
 * encoding) or truncated so that it no longer matches; environment secrets shorter than
 * `MIN_ENV_SECRET_CHARS` or under a name that does not look secret; secrets in a tool's successful
 * *result*, which is the tool's data and is never rewritten; host paths other than the working directory.
 */

export const REDACTED = "[REDACTED]";

/** Anthropic (`sk-ant-api03-…`), OpenAI (`sk-proj-…`, `sk-…`) and similar `sk-` keys. */
export const SK_API_KEY = /\bsk-[A-Za-z0-9_-]{16,}/g;
/** Stripe-style live and test keys. */
export const STRIPE_KEY = /\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}/g;
/** GitHub personal, OAuth, app and refresh tokens, and fine-grained PATs. */
export const GITHUB_TOKEN = /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g;
/** AWS access key ids (long-lived and temporary). */
export const AWS_ACCESS_KEY_ID = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g;
/** Slack bot, user and app tokens. */
export const SLACK_TOKEN = /\bxox[abposr]-[A-Za-z0-9-]{10,}/g;
/** Google API keys. */
export const GOOGLE_API_KEY = /\bAIza[0-9A-Za-z_-]{35}/g;
/** JSON Web Tokens: base64url header (always `eyJ…`), payload and signature. */
export const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
/** PEM private keys, up to their end marker (or the end of the message when it was cut). */
export const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g;
/**
 * `Authorization: Bearer …` / `Basic …`: the scheme is kept, the credentials go. A credential has a digit
 * or is long, so that prose ("Basic authentication required") is left alone.
 */
export const AUTHORIZATION_CREDENTIALS =
  /\b(Bearer|Basic)\s+(?:(?=\S*\d)[A-Za-z0-9._~+/=-]{8,}|[A-Za-z0-9._~+/=-]{20,})/gi;
/** `scheme://user:password@host` (the user may be empty): the user and password go. */
export const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]{0,30}:\/\/)[^\s/?#@:]*:[^\s/?#@]+@/gi;
/**
 * `password=…`, `"api_key": "…"`, `client_secret: …`: the name is kept, the value goes. The name's
 * affixes are bounded, so that a long dotted word costs linear time, not quadratic.
 */
export const SECRET_ASSIGNMENT =
  /\b([A-Za-z0-9_.-]{0,40}(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[A-Za-z0-9_.-]{0,40})(["']?\s*[=:]\s*["']?)(?!\[REDACTED\])[^\s"'&,;)}\]]+/gi;
/** A JS stack frame line (`    at fn (/path/file.js:1:2)`, `    at node:internal/…`): host internals. */
export const STACK_FRAME_LINE =
  /^[ \t]*at (?:.*[(\s])?(?:file:\/\/|node:|\/|[A-Za-z]:\\).*:\d+(?::\d+)?\)?[ \t]*(?:\n|$)/gm;
/** Host environment variables whose value is redacted wherever it appears. */
export const SECRET_ENV_NAME =
  /SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH/i;
/** Shorter values (`1`, `true`) would redact ordinary words. */
export const MIN_ENV_SECRET_CHARS = 8;

const TOKEN_PATTERNS: readonly RegExp[] = [
  PRIVATE_KEY_BLOCK,
  SK_API_KEY,
  STRIPE_KEY,
  GITHUB_TOKEN,
  AWS_ACCESS_KEY_ID,
  SLACK_TOKEN,
  GOOGLE_API_KEY,
  JWT,
];

/** Values of secret-named environment variables, longest first (one may contain another). Read each time: env can change. */
function environmentSecrets(): string[] {
  const values: string[] = [];
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && value.length >= MIN_ENV_SECRET_CHARS && SECRET_ENV_NAME.test(name)) values.push(value);
  }
  return values.sort((a, b) => b.length - a.length);
}

/** Rewrites `text` with every secret this module recognises replaced by `[REDACTED]`. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const secret of environmentSecrets()) out = out.split(secret).join(REDACTED);
  out = out.replace(STACK_FRAME_LINE, "");
  const cwd = process.cwd();
  if (cwd.length > 1) out = out.split(cwd).join("<host>");
  for (const pattern of TOKEN_PATTERNS) out = out.replace(pattern, REDACTED);
  out = out.replace(AUTHORIZATION_CREDENTIALS, `$1 ${REDACTED}`);
  out = out.replace(URL_CREDENTIALS, `$1${REDACTED}@`);
  out = out.replace(SECRET_ASSIGNMENT, `$1$2${REDACTED}`);
  return out;
}
