/**
 * FreeSWITCH's HTTP side (SPEC §9), outside /api/v1 because FreeSWITCH, not a person, calls it and
 * authenticates with HTTP basic auth (`CDR_WEBHOOK_USER` / `CDR_WEBHOOK_PASSWORD`, the `cred` of
 * json_cdr.conf.xml / xml_cdr.conf.xml and the `gateway-credentials` of xml_curl.conf.xml):
 *
 * - `POST /api/webhooks/cdr`: mod_json_cdr and mod_xml_cdr post every finished call leg here, in whichever
 *   encoding they are configured for (raw JSON, `cdr=` form field, its base64 variant with an unescaped `+`,
 *   XML as text or form field; `?uuid=` in the URL). The body is taken raw (FreeSWITCH's old JSON repeats keys,
 *   which a JSON parser would silently collapse) and parsed by @khata/cdr. The answer comes as soon as the CDR
 *   is recorded durably in the CDR inbox; the worker rates it. Anything FreeSWITCH sends again is recorded once
 *   and charged once. A body that is not a CDR is refused with 400 and nothing is recorded.
 * - `POST /api/freeswitch/dialplan`: mod_xml_curl's dialplan binding. A toll-free number an active account
 *   holds is parked for authorization (the ESL connector decides) and then rung on all the account's
 *   extensions at once; an unknown number, or one of a suspended or closed account, is refused.
 *
 * Both are exempt from the API's rate limit: the switch's own call rate bounds them, and a 429 would make
 * FreeSWITCH re-send CDRs and fall back to its static dialplan.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { CDR_BODY_BYTES_MAX, parseCdrHttpBody } from '@khata/cdr';
import { recordCdr, tollFreeNumberOf } from '@khata/esl-service/cdr-inbox';
import { type TollFreeRoute, tollFreeRoute } from '@khata/projections';
import { CdrReceipt, CdrWebhookQuery, DialplanQuery, DialplanRequest } from '@khata/schemas/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Static } from 'typebox';
import { ApiProblem } from '../problems.ts';

/** The largest CDR body accepted: what @khata/cdr parses. Real CDRs are 5–20 KB. */
export const CDR_WEBHOOK_BODY_BYTES_MAX = CDR_BODY_BYTES_MAX;
/** A dialplan request carries the channel's variables: tens of kilobytes at most. */
export const DIALPLAN_REQUEST_BYTES_MAX = 256 * 1024;
/** Form fields read from a dialplan request; FreeSWITCH sends a few hundred. */
const DIALPLAN_FIELDS_MAX = 2_000;
/** Contexts routed when the binding's URL names none: FreeSWITCH's context for calls from outside. */
export const DIALPLAN_CONTEXTS_DEFAULT = ['public'];
/** What the park extension sets: FreeSWITCH hangs up a call nobody decided on within 10 s (fail closed). */
export const PARK_TIMEOUT = '10:RECOVERY_ON_TIMER_EXPIRE';
/** How long the ring group rings before the call ends unanswered. */
export const RING_SECONDS = 30;
/** Extensions rung at once; more would be a broadcast storm, not a ring group. */
export const RING_GROUP_EXTENSIONS_MAX = 50;

const REALM = 'khata-freeswitch';
/** The channel variable the ESL connector sets on a call it authorized (@khata/esl AUTHORIZED_MARKER_VARIABLE). */
const AUTHORIZED_MARKER = 'billing_auth';

const problems = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  413: { $ref: 'Problem#' },
  503: { $ref: 'Problem#' },
};

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * HTTP basic auth against the configured credentials, in constant time (digests of equal length are compared,
 * so neither the length nor the content of the secret leaks through timing).
 */
function basicAuth(app: FastifyInstance) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const configured = app.khata.config.cdrWebhook;
    reply.header('www-authenticate', `Basic realm="${REALM}", charset="UTF-8"`);
    if (configured === null) {
      throw new ApiProblem(
        401,
        'UNAUTHENTICATED',
        'Unauthenticated',
        'no FreeSWITCH credentials are configured (CDR_WEBHOOK_USER, CDR_WEBHOOK_PASSWORD): every request is refused',
      );
    }
    const header = request.headers.authorization ?? '';
    const encoded = /^Basic ([A-Za-z0-9+/=]{1,2048})$/i.exec(header)?.[1];
    const given = encoded === undefined ? '' : Buffer.from(encoded, 'base64').toString('utf8');
    const expected = `${configured.user}:${configured.password.reveal()}`;
    if (encoded === undefined || !timingSafeEqual(digest(given), digest(expected))) {
      throw new ApiProblem(401, 'UNAUTHENTICATED', 'Unauthenticated', 'HTTP basic credentials are missing or wrong');
    }
    reply.removeHeader('www-authenticate');
  };
}

export async function freeswitchRoutes(app: FastifyInstance): Promise<void> {
  await app.register(cdrWebhook);
  await app.register(dialplan);
}

async function cdrWebhook(app: FastifyInstance): Promise<void> {
  // In this plugin only: every body arrives as raw bytes, whatever its Content-Type (or none).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: CDR_WEBHOOK_BODY_BYTES_MAX }, (_request, body, done) =>
    done(null, body),
  );
  app.setErrorHandler((error, _request, _reply) => {
    // Fastify's own 413 names the API's general limit; this route has its own.
    if ((error as { statusCode?: number }).statusCode === 413) {
      throw new ApiProblem(
        413,
        'PAYLOAD_TOO_LARGE',
        'Payload too large',
        `a CDR body may be at most ${CDR_WEBHOOK_BODY_BYTES_MAX} bytes`,
      );
    }
    throw error;
  });

  app.post(
    '/api/webhooks/cdr',
    {
      bodyLimit: CDR_WEBHOOK_BODY_BYTES_MAX,
      onRequest: basicAuth(app),
      config: { rateLimit: false },
      schema: {
        tags: ['freeswitch'],
        summary: 'Record a CDR from mod_json_cdr or mod_xml_cdr (rated asynchronously, once per call uuid)',
        consumes: [
          'application/json',
          'application/x-www-form-urlencoded',
          'application/x-www-form-base64-encoded',
          'application/x-www-form-plaintext',
          'text/xml',
          'application/xml',
        ],
        querystring: CdrWebhookQuery,
        response: { 200: CdrReceipt, ...problems },
      },
    },
    async (request) => {
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) {
        throw new ApiProblem(400, 'INVALID_CDR', 'Invalid CDR', 'the body is empty', {
          errors: [{ pointer: '/body', message: 'is empty' }],
        });
      }
      const { uuid } = request.query as Static<typeof CdrWebhookQuery>;
      const contentType = request.headers['content-type'];
      const parsed = parseCdrHttpBody(body, {
        ...(contentType === undefined ? {} : { contentType }),
        ...(uuid === undefined ? {} : { uuidHint: uuid }),
      });
      if (!parsed.ok) {
        const pointer = parsed.field === undefined ? '/body' : `/body/${parsed.field}`;
        throw new ApiProblem(400, 'INVALID_CDR', 'Invalid CDR', parsed.reason, {
          errors: [{ pointer, message: parsed.reason }],
        });
      }
      const { khata } = app;
      const recorded = await recordCdr({ db: khata.readDb, ledger: khata.ledger, clock: khata.clock }, parsed.cdr);
      request.log.info(
        { callId: recorded.callId, leg: recorded.leg, billable: recorded.billable, format: parsed.cdr.format },
        'CDR recorded',
      );
      return {
        callId: recorded.callId,
        leg: recorded.leg,
        accountId: recorded.accountId,
        billable: recorded.billable,
        reason: recorded.reason,
      };
    },
  );
}

async function dialplan(app: FastifyInstance): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: DIALPLAN_REQUEST_BYTES_MAX },
    (_request, body, done) => done(null, formFields(body as string)),
  );

  app.post(
    '/api/freeswitch/dialplan',
    {
      bodyLimit: DIALPLAN_REQUEST_BYTES_MAX,
      onRequest: basicAuth(app),
      config: { rateLimit: false },
      schema: {
        tags: ['freeswitch'],
        summary: "mod_xml_curl's dialplan binding: route a toll-free number to its account's extensions",
        consumes: ['application/x-www-form-urlencoded'],
        produces: ['text/xml'],
        querystring: DialplanQuery,
        body: DialplanRequest,
        response: problems,
      },
    },
    async (request, reply) => {
      const body = request.body as Static<typeof DialplanRequest>;
      const { context: contextList } = request.query as Static<typeof DialplanQuery>;
      void reply.type('text/xml; charset=utf-8');
      if (body.section !== 'dialplan') return NOT_FOUND_DOCUMENT;
      const context = body['Hunt-Context'] ?? body['Caller-Context'];
      const routed = contextList === undefined ? DIALPLAN_CONTEXTS_DEFAULT : contextList.split(',');
      // Other contexts (the extensions' own outbound dialling, say) stay with FreeSWITCH's static dialplan.
      if (context === undefined || !routed.includes(context)) return NOT_FOUND_DOCUMENT;
      const dialled = body['Hunt-Destination-Number'] ?? body['Caller-Destination-Number'];
      if (dialled === undefined || dialled === '') return NOT_FOUND_DOCUMENT;
      if (!/^\+?\d{1,20}$/.test(dialled)) return refusalDocument(context, null, 'UNKNOWN_NUMBER', 'UNALLOCATED_NUMBER');
      const tollFree = tollFreeNumberOf(dialled);
      const { khata } = app;
      const route =
        tollFree === null ? null : await tollFreeRoute(khata.readDb, await khata.readModelSchema('accounts'), tollFree);
      request.log.debug({ dialled, context, accountId: route?.accountId ?? null }, 'dialplan lookup');
      return routeDocument(context, dialled, route);
    },
  );
}

/** A form body as FreeSWITCH sends it: every field once; a repeated field keeps its first value. */
function formFields(body: string): Record<string, string> {
  const fields: Record<string, string> = {};
  let count = 0;
  for (const [name, value] of new URLSearchParams(body)) {
    if (++count > DIALPLAN_FIELDS_MAX) break;
    if (!Object.hasOwn(fields, name)) fields[name] = value;
  }
  return fields;
}

// ---------------------------------------------------------------------------------------------------------------
// FreeSWITCH XML documents (mod_xml_curl: a `freeswitch/xml` document with the asked section)

function xmlText(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/** A regular expression that matches exactly the dialled number (digits and a leading `+` only reach here). */
function exactly(dialled: string): string {
  return `^${dialled.replace('+', '\\+')}$`;
}

const NOT_FOUND_DOCUMENT = `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<document type="freeswitch/xml">
  <section name="result">
    <result status="not found"/>
  </section>
</document>
`;

function dialplanDocument(context: string, extensions: string): string {
  return `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<document type="freeswitch/xml">
  <section name="dialplan" description="Khata dynamic routing">
    <context name="${xmlText(context)}">
${extensions}    </context>
  </section>
</document>
`;
}

function action(application: string, data?: string): string {
  return `          <action application="${xmlText(application)}"${data === undefined ? '' : ` data="${xmlText(data)}"`}/>\n`;
}

/** One extension that ends the call with a cause FreeSWITCH maps to a SIP answer (UNALLOCATED_NUMBER → 404, …). */
function refusalDocument(context: string, dialled: string | null, reason: string, cause: string): string {
  const condition =
    dialled === null
      ? '        <condition>\n'
      : `        <condition field="destination_number" expression="${xmlText(exactly(dialled))}">\n`;
  return dialplanDocument(
    context,
    `      <extension name="khata_refuse">\n${condition}${action('set', `khata_refusal=${reason}`)}${action('hangup', cause)}        </condition>\n      </extension>\n`,
  );
}

/**
 * The route for a toll-free number. Two passes through the same document (research/freeswitch.md §1):
 * the first, before any decision (`billing_auth` empty), parks the call so the ESL connector authorizes it;
 * the connector's `uuid_transfer` runs the dialplan again with `billing_auth=OK`, and the second extension
 * rings every extension of the account at once (`,` in a bridge string: simultaneous; `|` would be one after
 * another). Each extension is dialled as `user/<extension>@${domain_name}`: the account's extensions must be
 * users of that number in FreeSWITCH's directory, in the domain the context sets (the vanilla `public` context
 * sets `domain_name`).
 */
function routeDocument(context: string, dialled: string, route: TollFreeRoute | null): string {
  if (route === null) return refusalDocument(context, dialled, 'UNKNOWN_NUMBER', 'UNALLOCATED_NUMBER');
  if (route.accountStatus !== 'active') {
    return refusalDocument(context, dialled, `ACCOUNT_${route.accountStatus.toUpperCase()}`, 'CALL_REJECTED');
  }
  const extensions = route.extensions.slice(0, RING_GROUP_EXTENSIONS_MAX);
  if (extensions.length === 0) return refusalDocument(context, dialled, 'NO_EXTENSIONS', 'NO_ROUTE_DESTINATION');
  const match = `<condition field="destination_number" expression="${xmlText(exactly(dialled))}">`;
  // Expanded by FreeSWITCH when it hunts, so each pass sees the marker the ESL connector set (or not).
  const marker = `\${${AUTHORIZED_MARKER}}`;
  const ringGroup = extensions.map((extension) => `user/${extension}@\${domain_name}`).join(',');
  return dialplanDocument(
    context,
    '      <extension name="khata_billing_park">\n' +
      `        <condition field="${marker}" expression="^$"/>\n` +
      `        ${match}\n` +
      action('set', `park_timeout=${PARK_TIMEOUT}`) +
      action('park') +
      '        </condition>\n' +
      '      </extension>\n' +
      `      <extension name="khata_ring_group_${xmlText(route.number)}">\n` +
      `        <condition field="${marker}" expression="^OK$"/>\n` +
      `        ${match}\n` +
      action('set', `khata_account_id=${route.accountId}`) +
      action('set', `call_timeout=${RING_SECONDS}`) +
      action('set', 'hangup_after_bridge=true') +
      action('set', 'continue_on_fail=true') +
      action('bridge', ringGroup) +
      action('hangup', 'NO_ANSWER') +
      '        </condition>\n' +
      '      </extension>\n',
  );
}
