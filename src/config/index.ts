export { CONFIG_FILE_NAME, expandEnvironment, type LoadedConfig, loadConfig, parseConfig } from "./load-config.js";
export * from "./ptc-config.js";
