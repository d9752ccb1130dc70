/**
 * @khata/esl/testing — a FreeSWITCH stand-in for tests: inbound ESL over TCP on 127.0.0.1, a channel model that
 * answers the call-control commands as FreeSWITCH does, recorded commands, and events built like real captures.
 */
export {
  FreeswitchStandIn,
  type FreeswitchStandInOptions,
  type ParkCall,
  type RecordedCommand,
  type ScheduledTask,
  STAND_IN_COMMANDS_RECORDED_MAX,
  STAND_IN_CONNECTIONS_MAX,
  STAND_IN_WAIT_MILLISECONDS_DEFAULT,
  type StandInChannel,
  type StandInIdentity,
} from './stand-in.ts';
