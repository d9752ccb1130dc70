/**
 * The connector's Prometheus metrics, on Khata's registry (served at /metrics). Every metric has a `node`
 * label (`host:port` of the FreeSWITCH) because one connector may serve several switches.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Decision latency buckets, seconds: SPEC §14's target is p99 ≤ 10 ms, so the resolution is finest below it. */
const DECISION_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

export type AuthorizationOutcome = 'authorized' | 'denied' | 'abandoned' | 'overloaded' | 'error';
export type CdrOutcome = 'rated' | 'recorded' | 'not-billable' | 'rejected' | 'error';
export type ReconciliationAction = 'released' | 'adopted' | 'authorized';

export interface ConnectorMetrics {
  readonly authorizations: Counter<'node' | 'outcome'>;
  readonly decisionSeconds: Histogram<'node' | 'decision'>;
  readonly decisionSentSeconds: Histogram<'node' | 'decision'>;
  readonly connectionUp: Gauge<'node' | 'connection'>;
  readonly activeCalls: Gauge<'node'>;
  readonly duplicateParks: Counter<'node'>;
  readonly extensions: Counter<'node'>;
  readonly cdrs: Counter<'node' | 'leg' | 'outcome'>;
  readonly reconciliations: Counter<'node' | 'action'>;
  readonly heartbeatSeconds: Gauge<'node'>;
}

/**
 * The metrics, created once per registry: a second connector on the same registry (a restart inside one
 * process, tests) reuses them instead of failing on a duplicate name.
 */
export function connectorMetrics(registry: Registry): ConnectorMetrics {
  const existing = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
  const registers = [registry];
  return {
    authorizations:
      existing('khata_esl_authorizations_total') ??
      new Counter({
        name: 'khata_esl_authorizations_total',
        help: 'Parked calls decided, by outcome: authorized, denied, abandoned (hung up while parked), overloaded, error, fail-open (let through while the ledger was unreachable)',
        labelNames: ['node', 'outcome'],
        registers,
      }),
    decisionSeconds:
      existing('khata_esl_decision_seconds') ??
      new Histogram({
        name: 'khata_esl_decision_seconds',
        help: "CHANNEL_PARK received to FreeSWITCH's reply to the uuid_transfer (transfer) or uuid_kill (kill)",
        labelNames: ['node', 'decision'],
        buckets: DECISION_BUCKETS_SECONDS,
        registers,
      }),
    decisionSentSeconds:
      existing('khata_esl_decision_sent_seconds') ??
      new Histogram({
        name: 'khata_esl_decision_sent_seconds',
        help: "CHANNEL_PARK received to the uuid_transfer (transfer) or uuid_kill (kill) written to FreeSWITCH's socket: Khata's own share of the decision (SPEC §14)",
        labelNames: ['node', 'decision'],
        buckets: DECISION_BUCKETS_SECONDS,
        registers,
      }),
    connectionUp:
      existing('khata_esl_connection_up') ??
      new Gauge({
        name: 'khata_esl_connection_up',
        help: 'Whether the ESL connection (event or command) to the FreeSWITCH node is up (1) or down (0)',
        labelNames: ['node', 'connection'],
        registers,
      }),
    activeCalls:
      existing('khata_esl_active_calls') ??
      new Gauge({
        name: 'khata_esl_active_calls',
        help: 'Authorized calls the connector is following on the node (reservation open, no hangup seen yet)',
        labelNames: ['node'],
        registers,
      }),
    duplicateParks:
      existing('khata_esl_duplicate_parks_total') ??
      new Counter({
        name: 'khata_esl_duplicate_parks_total',
        help: 'CHANNEL_PARK events for a call already decided (re-parks), ignored',
        labelNames: ['node'],
        registers,
      }),
    extensions:
      existing('khata_esl_reservation_extensions_total') ??
      new Counter({
        name: 'khata_esl_reservation_extensions_total',
        help: 'Calls whose limit was raised during the call by a top-up or adjustment',
        labelNames: ['node'],
        registers,
      }),
    cdrs:
      existing('khata_esl_cdrs_total') ??
      new Counter({
        name: 'khata_esl_cdrs_total',
        help: 'CHANNEL_HANGUP_COMPLETE events turned into CDRs, by leg and outcome',
        labelNames: ['node', 'leg', 'outcome'],
        registers,
      }),
    reconciliations:
      existing('khata_esl_reconciliations_total') ??
      new Counter({
        name: 'khata_esl_reconciliations_total',
        help: 'What reconciling with "show channels" after a (re)connect did: released, adopted or authorized a call',
        labelNames: ['node', 'action'],
        registers,
      }),
    heartbeatSeconds:
      existing('khata_esl_last_heartbeat_seconds') ??
      new Gauge({
        name: 'khata_esl_last_heartbeat_seconds',
        help: "Unix time of the node's last HEARTBEAT event",
        labelNames: ['node'],
        registers,
      }),
  };
}
