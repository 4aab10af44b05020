/** What loading a TypeScript tools module says when tsx is not installed (ptc's CLI prefixes `ptc: `). */
export const TSX_MISSING = "loading a .ts tools module needs tsx: npm install tsx (or compile it to .js)";

type TsImport = (specifier: string, parentURL: string) => Promise<unknown>;

/**
 * tsx's `tsImport`, loaded when a TypeScript tools module is: tsx (and esbuild under it) is an optional
 * peer dependency, which a project that hands ptc JavaScript modules does not need.
 */
export async function loadTsImport(): Promise<TsImport> {
  try {
    const { tsImport } = await import("tsx/esm/api");
    return tsImport;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ERR_MODULE_NOT_FOUND" && String((error as Error).message).includes("'tsx'")) {
      throw new Error(TSX_MISSING, { cause: error });
    }
    throw error;
  }
}
