/**
 * @khata/config — Khata's settings, read from environment variables once at start-up into a typed,
 * deep-frozen object. Nothing else in Khata reads `process.env`.
 *
 * Invariants: a bad or missing variable stops start-up with a ConfigError naming it; secrets are
 * wrapped in `Secret` and print as `[redacted]` everywhere.
 */
export {
  ConfigError,
  type Environment,
  type EventStoreKind,
  type FreeswitchNode,
  type HotProjectionPolicy,
  type KhataConfig,
  loadConfig,
  Secret,
} from './config.ts';
