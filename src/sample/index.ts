export { formatCents, formatCount } from "./format.js";
export { MAX_QUERY_RESULT_BYTES, MAX_QUERY_ROWS } from "./read-only-query.js";
export {
  CORE_REGIONS,
  CUSTOMER_COUNT,
  createSalesDatabase,
  ORDER_COUNT,
  ORDER_STATUSES,
  REGION_NAMES,
  SAMPLE_ENDPOINTS,
  type SalesDatabaseOptions,
  type SampleEndpoint,
  SEGMENTS,
} from "./sales-database.js";
export { LOG_COUNT, LOG_LEVELS, LOG_SERVICES, type LogEntry, type LogLevel, type LogService } from "./sample-logs.js";
export { LEDGER_PATH, README_PATH, SUMMARY_PATH } from "./sample-reports.js";
export {
  closeSampleTools,
  createSampleTools,
  type EndpointStatus,
  type FileInfo,
  type FileSummary,
  type SampleTools,
  type SampleToolsOptions,
  splitLines,
} from "./sample-tools.js";
