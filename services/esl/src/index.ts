/**
 * @khata/esl-service — FreeSWITCH's connection to Khata: the ESL connector (`EslConnector`, one
 * `NodeConnector` per switch) that authorizes parked calls, caps and extends them, and rates their CDRs; and the
 * CDR inbox (`@khata/esl-service/cdr-inbox`) where the HTTP webhook records what FreeSWITCH posts.
 *
 * Invariants: a call uuid is authorized at most once per process (re-parks and duplicate events are ignored)
 * and its StartCall command id derives from the uuid, so even two processes reserve once; the StartCall append
 * decides, the hot projection only refuses early; every refusal or failure ends the call (fail closed); only
 * A-legs are charged, and a CDR reported any number of times, by any path, charges once; every queue and set
 * the connector keeps has a named bound. `khata start` runs the connector when FREESWITCH_ESL_HOST is set;
 * `src/main.ts` runs it as a process of its own.
 */
export {
  accountIdFromCode,
  isDialledNumber,
  type PayingAccount,
  payingAccount,
  TOLL_FREE_HOLDER_TTL_MILLISECONDS,
  TOLL_FREE_HOLDERS_CACHED_MAX,
  TollFreeHolders,
  tollFreeNumberOf,
} from './accounts.ts';
export {
  type CdrInboxDeps,
  cdrForRating,
  cdrJobId,
  notBillableBecause,
  type RecordedCdr,
  recordCdr,
} from './cdr-inbox.ts';
export {
  CLOSE_WAIT_MILLISECONDS,
  COMMAND_CONNECTIONS_DEFAULT,
  COMMAND_CONNECTIONS_MAX,
  CONNECTOR_EVENTS,
  type ConnectorKhata,
  DECIDED_CALLS_REMEMBERED_MAX,
  type DecisionTiming,
  EslConnector,
  type EslConnectorOptions,
  EXTENDING_EVENT_TYPES,
  EXTENSION_EVENTS_BATCH_MAX,
  FAILURE_HANGUP_CAUSE,
  type FreeswitchNodeOptions,
  type LowBalanceWarning,
  NodeConnector,
  OVERLOADED_HANGUP_CAUSE,
  PARKS_IN_FLIGHT_MAX,
  RECONCILE_CHANNELS_MAX,
  REGISTRY_FOLLOWER_NAME,
  TOP_UP_FOLLOWER_NAME,
} from './connector.ts';
export { type ConnectorMetrics, connectorMetrics } from './metrics.ts';
