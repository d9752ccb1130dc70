/**
 * @khata/esl — FreeSWITCH's event socket: our own frame parser and serializer (`frames.ts`), the API commands
 * Khata sends and what their replies mean (`commands.ts`), the pure part of call authorization
 * (`call-control.ts`), and a reconnecting, crash-proof client over modesl (`client.ts`).
 *
 * Invariants: parsers return values and never throw on what a peer sends; every buffer, queue and retry has a
 * named bound; `-ERR No Such Channel!` is an outcome, not an error; only the A-leg of a call is ever billed, and
 * `legs.ts` is the one place that decides which leg a channel is. The stand-in for tests is `@khata/esl/testing`.
 */
export {
  AUTHORIZED_MARKER_VARIABLE,
  type AuthorizationDecision,
  CAPPED_HANGUP_CAUSE,
  type CallControlOptions,
  type CallControlResult,
  callControlCommands,
  commandsForDecision,
  DENIED_HANGUP_CAUSE_DEFAULT,
  MAX_SECONDS_VARIABLE,
  type ParkedCall,
  type ParkedCallResult,
  parkedCallFromEvent,
} from './call-control.ts';
export {
  type ApiCommandOptions,
  type ConnectionRole,
  type ConnectionState,
  type ConnectionStateChange,
  ESL_API_TIMEOUT_MILLISECONDS,
  ESL_COMMAND_QUEUE_LENGTH_MAX,
  ESL_CONNECT_TIMEOUT_MILLISECONDS,
  ESL_KEEPALIVE_DELAY_MILLISECONDS,
  ESL_PIPELINE_DEPTH_MAX,
  ESL_RECONNECT_DELAY_MAX_MILLISECONDS,
  ESL_RECONNECT_DELAY_MIN_MILLISECONDS,
  EslClient,
  EslClientError,
  type EslClientErrorCode,
  type EslClientOptions,
  reconnectDelayMilliseconds,
} from './client.ts';
export {
  type ApiOutcome,
  type BroadcastLeg,
  type ChannelRow,
  type ChannelVariables,
  COMMAND_VALUE_CHARACTERS_MAX,
  COMMAND_WORD_CHARACTERS_MAX,
  classifyApiReply,
  deletedTaskCount,
  HANGUP_CAUSES,
  hangupCause,
  hangupOnAnswerApplication,
  killCommand,
  parseShowChannels,
  SCHEDULE_SECONDS_MAX,
  SET_VARIABLES_MAX,
  SHOW_CHANNELS_COMMAND,
  type ShowChannelsResult,
  scheduleBroadcastCommand,
  scheduleDeleteCommand,
  scheduleHangupCommand,
  setVariableCommand,
  setVariablesCommand,
  transferCommand,
} from './commands.ts';
export * from './frames.ts';
export { decideLeg, type Leg, type LegEvidence, otherLegUuid } from './legs.ts';
export { decodeBytesLeniently, decodeEventValue, encodeEventValue } from './url-encoding.ts';
