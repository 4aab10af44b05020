/** Python 3.14 `keyword.kwlist`: never valid as identifiers. */
const HARD_KEYWORDS: ReadonlySet<string> = new Set(
  (
    "False None True and as assert async await break class continue def del elif else except finally for from " +
    "global if import in is lambda nonlocal not or pass raise return try while with yield"
  ).split(" "),
);

/** `keyword.softkwlist`: legal names, but a tool called `match` or `type` reads badly and confuses models. */
const SOFT_KEYWORDS: ReadonlySet<string> = new Set(["_", "case", "match", "type"]);

/**
 * Names a tool must not take over in the script's globals: Python builtins (a tool named `print` or `filter`
 * would silently replace them), the guest's predefined errors, modules scripts import by habit, and the
 * typing names the stubs import.
 */
const SHADOW_GUARDED: ReadonlySet<string> = new Set(
  [
    // dir(builtins) in Python 3.14, minus dunders and the keyword-named ones.
    "abs aiter all anext any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile complex " +
      "copyright credits delattr dict dir divmod enumerate eval exec exit filter float format frozenset getattr " +
      "globals hasattr hash help hex id input int isinstance issubclass iter len license list locals map max " +
      "memoryview min next object oct open ord pow print property quit range repr reversed round set setattr slice " +
      "sorted staticmethod str sum super tuple vars zip",
    "ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup BlockingIOError " +
      "BrokenPipeError BufferError BytesWarning ChildProcessError ConnectionAbortedError ConnectionError " +
      "ConnectionRefusedError ConnectionResetError DeprecationWarning EOFError Ellipsis EncodingWarning " +
      "EnvironmentError Exception ExceptionGroup FileExistsError FileNotFoundError FloatingPointError FutureWarning " +
      "GeneratorExit IOError ImportError ImportWarning IndentationError IndexError InterruptedError " +
      "IsADirectoryError KeyError KeyboardInterrupt LookupError MemoryError ModuleNotFoundError NameError " +
      "NotADirectoryError NotImplemented NotImplementedError OSError OverflowError PendingDeprecationWarning " +
      "PermissionError ProcessLookupError PythonFinalizationError RecursionError ReferenceError ResourceWarning " +
      "RuntimeError RuntimeWarning StopAsyncIteration StopIteration SyntaxError SyntaxWarning SystemError " +
      "SystemExit TabError TimeoutError TypeError UnboundLocalError UnicodeDecodeError UnicodeEncodeError " +
      "UnicodeError UnicodeTranslateError UnicodeWarning UserWarning ValueError Warning ZeroDivisionError",
    "ToolError ToolTimeoutError asyncio json Any Literal NotRequired TypedDict",
  ]
    .join(" ")
    .split(" "),
);

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True for an ASCII identifier usable as a parameter or attribute name (soft keywords included). */
export function isPythonIdentifier(name: string): boolean {
  return IDENTIFIER.test(name) && !HARD_KEYWORDS.has(name);
}

/**
 * A readable Python identifier for a tool name, stable across releases: invalid characters become `_`
 * (ASCII only, since Python NFKC-folds Unicode names and could merge distinct tools), a leading digit gets a
 * `_` prefix, and keywords or names that would shadow important globals get a trailing `_`.
 */
export function toPythonName(toolName: string): string {
  let name = toolName.replace(/[^A-Za-z0-9_]/gu, "_");
  if (name === "") name = "tool";
  if (/^[0-9]/.test(name)) name = `_${name}`;
  if (HARD_KEYWORDS.has(name) || SOFT_KEYWORDS.has(name) || SHADOW_GUARDED.has(name)) name = `${name}_`;
  return name;
}
