/**
 * FreeSWITCH's HTTP endpoints through `app.inject()` on a whole Khata (embedded in-memory database): the CDR
 * webhook in every encoding mod_json_cdr and mod_xml_cdr use, its refusals, the dialplan endpoint's documents,
 * and one call reported three ways (ESL event, JSON CDR, XML CDR) that is charged once.
 *
 * The CDRs are this file's own fixtures (fixtures/freeswitch/), templates in the shapes FreeSWITCH writes,
 * filled with each test's call uuid and times.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Money } from '@khata/domain';
import { encodeEventValue } from '@khata/esl/protocol';
import { connectStandIn, eventually, openTestAccount, runCommand } from '@khata/esl-service/testing';
import { jobs } from '@khata/scheduler';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApi, testApi } from '../testing.ts';
import { CDR_WEBHOOK_BODY_BYTES_MAX } from './freeswitch.ts';

const USER = 'freeswitch';
const PASSWORD = 'cdr-webhook-secret';
const AUTHORIZATION = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const TOLL_FREE = '18004190101';
const CALLER = '+919876500001';
/** FreeSWITCH channel variable references, as the dialplan document writes them. */
const MARKER = `\${billing_auth}`;
const DOMAIN = `\${domain_name}`;

const template = (name: string): string =>
  readFileSync(new URL(`../../fixtures/freeswitch/${name}`, import.meta.url), 'utf8');
const A_LEG_JSON = template('a-leg.cdr.json');
const A_LEG_XML = template('a-leg.cdr.xml');
const B_LEG_JSON = template('b-leg.cdr.json');

interface CallFacts {
  readonly uuid: string;
  readonly bUuid: string;
  readonly destination: string;
  /** Microseconds since the epoch; answer 0 for an unanswered call. */
  readonly startMicroseconds: number;
  readonly answerMicroseconds: number;
  readonly endMicroseconds: number;
}

function call(overrides: Partial<CallFacts> = {}): CallFacts {
  const start = Date.parse('2026-11-03T05:30:00.000Z') * 1000 + 250_123;
  return {
    uuid: randomUUID(),
    bUuid: randomUUID(),
    destination: TOLL_FREE,
    startMicroseconds: start,
    answerMicroseconds: start + 4_000_000,
    endMicroseconds: start + 4_000_000 + 95_400_321,
    ...overrides,
  };
}

/** `YYYY-MM-DD hh:mm:ss` in IST, FreeSWITCH's *_stamp variables on a switch in India. */
function stamp(microseconds: number): string {
  if (microseconds === 0) return '';
  return new Date(Math.floor(microseconds / 1000) + 330 * 60_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** A fixture with the call's facts, its times derived the way FreeSWITCH derives them. */
function fill(text: string, facts: CallFacts): string {
  const seconds = (microseconds: number) => Math.floor(microseconds / 1_000_000);
  const answered = facts.answerMicroseconds !== 0;
  const billUsec = answered ? facts.endMicroseconds - facts.answerMicroseconds : 0;
  const durationUsec = facts.endMicroseconds - facts.startMicroseconds;
  const values: Record<string, string> = {
    UUID: facts.uuid,
    B_UUID: facts.bUuid,
    DESTINATION: facts.destination,
    CALLER,
    CALLER_ENCODED: encodeEventValue(CALLER),
    START_STAMP: stamp(facts.startMicroseconds),
    ANSWER_STAMP: stamp(facts.answerMicroseconds),
    END_STAMP: stamp(facts.endMicroseconds),
    START_STAMP_ENCODED: encodeEventValue(stamp(facts.startMicroseconds)),
    ANSWER_STAMP_ENCODED: encodeEventValue(stamp(facts.answerMicroseconds)),
    END_STAMP_ENCODED: encodeEventValue(stamp(facts.endMicroseconds)),
    START_EPOCH: String(seconds(facts.startMicroseconds)),
    START_UEPOCH: String(facts.startMicroseconds),
    ANSWER_EPOCH: String(seconds(facts.answerMicroseconds)),
    ANSWER_UEPOCH: String(facts.answerMicroseconds),
    END_EPOCH: String(seconds(facts.endMicroseconds)),
    END_UEPOCH: String(facts.endMicroseconds),
    DURATION: String(seconds(facts.endMicroseconds) - seconds(facts.startMicroseconds)),
    BILLSEC: String(answered ? seconds(facts.endMicroseconds) - seconds(facts.answerMicroseconds) : 0),
    MDURATION: String(Math.floor(durationUsec / 1000)),
    BILLMSEC: String(Math.floor(billUsec / 1000)),
    UDURATION: String(durationUsec),
    BILLUSEC: String(billUsec),
  };
  return text.replaceAll(/\{\{([A-Z_]+)\}\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`the fixture names an unknown value ${name}`);
    return value;
  });
}

let api: TestApi;
let accountId: string;

beforeAll(async () => {
  api = await testApi({ env: { CDR_WEBHOOK_USER: USER, CDR_WEBHOOK_PASSWORD: PASSWORD } });
  ({ accountId } = await openTestAccount(api.khata, {
    topUp: '1180.00',
    tollFreeNumbers: [TOLL_FREE],
    extensions: ['101', '102'],
  }));
  await api.settle();
}, 120_000);
afterAll(async () => {
  await api?.close();
});

function postCdr(
  body: string | Buffer,
  contentType: string | null,
  options: { url?: string; authorization?: string } = {},
) {
  return api.app.inject({
    method: 'POST',
    url: options.url ?? '/api/webhooks/cdr',
    headers: {
      'user-agent': 'freeswitch-json/1.0',
      ...(contentType === null ? {} : { 'content-type': contentType }),
      ...(options.authorization === '' ? {} : { authorization: options.authorization ?? AUTHORIZATION }),
    },
    payload: body,
  });
}

async function ratedCdrs(callId: string): Promise<Record<string, unknown>[]> {
  const { events } = await api.khata.eventStore.readStream(`account-${accountId}`);
  return events
    .filter((event) => event.type === 'CdrRated' && event.data.callId === callId)
    .map((event) => event.data as Record<string, unknown>);
}

async function cdrJobs(): Promise<Awaited<ReturnType<typeof jobs>>> {
  return jobs(api.khata.readDb, { kind: 'rate-cdr' });
}

/** Runs the worker's due jobs now instead of waiting for its next poll. */
async function rateRecorded(): Promise<void> {
  await api.khata.scheduler.runDue();
}

describe('POST /api/webhooks/cdr', () => {
  it('records a raw JSON CDR (encode=false), answers at once, and the worker rates it once however often it comes', async () => {
    const facts = call();
    const body = fill(A_LEG_JSON, facts);
    const response = await postCdr(body, 'application/json', { url: `/api/webhooks/cdr?uuid=${facts.uuid}` });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ callId: facts.uuid, leg: 'A', accountId, billable: true, reason: null });
    expect((await cdrJobs()).find((job) => job.job_id === `rate-cdr:${facts.uuid}`)).toBeDefined();

    await rateRecorded();
    await eventually(async () => (await ratedCdrs(facts.uuid)).length === 1, 'the CDR to be rated');
    // FreeSWITCH retries (a timeout on its side): recorded again, never charged again.
    expect((await postCdr(body, 'application/json')).statusCode).toBe(200);
    await rateRecorded();
    const rated = await ratedCdrs(facts.uuid);
    expect(rated).toHaveLength(1);
    // Billed on billusec (95.400321 s → 95,401 ms), not on billsec, which says 96 here.
    expect(rated[0]).toMatchObject({ billableMilliseconds: 95_401, durationSeconds: 96 });
  });

  it.each([
    ['mod_json_cdr encode=true: cdr= form field', 'json', 'form'],
    ['mod_json_cdr encode=base64: cdr= base64 with its + unescaped', 'json', 'base64'],
    ['mod_xml_cdr encode=textxml: raw XML', 'xml', 'textxml'],
    ['mod_xml_cdr encode=true: cdr= form field (values URL-encoded inside)', 'xml', 'form'],
    ['mod_xml_cdr encode=false: cdr= raw XML, form-plaintext', 'xml', 'plaintext'],
    ['no Content-Type at all (sniffed)', 'json', 'none'],
  ])('accepts %s', async (_name, kind, encoding) => {
    const facts = call();
    const document = fill(kind === 'json' ? A_LEG_JSON : A_LEG_XML, facts);
    let body: string;
    let contentType: string | null;
    switch (encoding) {
      case 'form':
        body = `cdr=${encodeEventValue(document)}`;
        contentType = 'application/x-www-form-urlencoded';
        break;
      case 'base64':
        body = `cdr=${Buffer.from(document).toString('base64')}`;
        expect(body).toContain('+');
        contentType = 'application/x-www-form-base64-encoded';
        break;
      case 'plaintext':
        body = `cdr=${document}`;
        contentType = 'application/x-www-form-plaintext';
        break;
      case 'textxml':
        body = document;
        contentType = 'text/xml';
        break;
      default:
        body = document;
        contentType = null;
    }
    // mod_xml_cdr with prefix-a-leg puts a_ before the uuid in the URL.
    const url = kind === 'xml' ? `/api/webhooks/cdr?uuid=a_${facts.uuid}` : `/api/webhooks/cdr?uuid=${facts.uuid}`;
    const response = await postCdr(body, contentType, { url });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ callId: facts.uuid, leg: 'A', accountId, billable: true });
    await rateRecorded();
    await eventually(async () => (await ratedCdrs(facts.uuid)).length === 1, 'the CDR to be rated');
    expect((await ratedCdrs(facts.uuid))[0]).toMatchObject({ billableMilliseconds: 95_401, destination: TOLL_FREE });
  });

  it('stores a B-leg CDR but never bills it', async () => {
    const facts = call();
    const response = await postCdr(fill(B_LEG_JSON, facts), 'application/json');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ callId: facts.bUuid, leg: 'B', billable: false });
    expect(response.json().reason).toMatch(/B-leg/);
    await rateRecorded();
    const job = (await cdrJobs()).find((row) => row.job_id === `rate-cdr:${facts.bUuid}`);
    expect(job).toMatchObject({ status: 'done' });
    expect((job?.payload as { record?: { callId: string; leg: string } } | undefined)?.record).toMatchObject({
      callId: facts.bUuid,
      leg: 'B',
    });
    expect(await ratedCdrs(facts.bUuid)).toEqual([]);
  });

  it('refuses requests without the right basic credentials, and records nothing', async () => {
    const before = (await cdrJobs()).length;
    const body = fill(A_LEG_JSON, call());
    const anonymous = await postCdr(body, 'application/json', { authorization: '' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Basic realm=/);
    expect(anonymous.headers['content-type']).toContain('application/problem+json');
    const wrong = `Basic ${Buffer.from(`${USER}:not-the-password`).toString('base64')}`;
    expect((await postCdr(body, 'application/json', { authorization: wrong })).statusCode).toBe(401);
    expect((await postCdr(body, 'application/json', { authorization: 'Bearer a-token' })).statusCode).toBe(401);
    expect(await cdrJobs()).toHaveLength(before);
  });

  it.each([
    ['an empty body', '', 'application/json'],
    ['JSON that is no CDR', '{"hello":"world"}', 'application/json'],
    ['truncated JSON', fill(A_LEG_JSON, call()).slice(0, 500), 'application/json'],
    ['broken base64', 'cdr=%%%not-base64', 'application/x-www-form-base64-encoded'],
    ['a form without cdr', 'other=1', 'application/x-www-form-urlencoded'],
    ['plain text', 'hello', 'text/plain'],
  ])('answers 400 to %s and records nothing', async (_name, body, contentType) => {
    const before = (await cdrJobs()).length;
    const response = await postCdr(body, contentType);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json()).toMatchObject({ status: 400, code: expect.stringMatching(/INVALID_CDR|BAD_REQUEST/) });
    expect(await cdrJobs()).toHaveLength(before);
  });

  it('refuses a ?uuid= that names another call than the body', async () => {
    const response = await postCdr(fill(A_LEG_JSON, call()), 'application/json', {
      url: `/api/webhooks/cdr?uuid=${randomUUID()}`,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([{ pointer: '/body/uuid', message: expect.stringContaining('uuid') }]);
  });

  it('answers 413 to a body over the limit', async () => {
    const before = (await cdrJobs()).length;
    const response = await postCdr(Buffer.alloc(CDR_WEBHOOK_BODY_BYTES_MAX + 1, 0x20), 'application/json');
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      detail: expect.stringContaining(String(CDR_WEBHOOK_BODY_BYTES_MAX)),
    });
    expect(await cdrJobs()).toHaveLength(before);
  });
});

describe('POST /api/freeswitch/dialplan', () => {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    isArray: (name) => ['extension', 'action', 'condition'].includes(name),
  });

  function lookup(fields: Record<string, string>, options: { url?: string; authorization?: string } = {}) {
    return api.app.inject({
      method: 'POST',
      url: options.url ?? '/api/freeswitch/dialplan',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(options.authorization === '' ? {} : { authorization: options.authorization ?? AUTHORIZATION }),
      },
      payload: new URLSearchParams({
        hostname: 'khata-fs-test',
        section: 'dialplan',
        tag_name: '',
        key_name: '',
        key_value: '',
        'Event-Name': 'REQUEST_PARAMS',
        'Core-UUID': '6a1f0c2e-3b4d-4e5f-8a7b-9c0d1e2f3a4b',
        'Caller-Caller-ID-Number': CALLER,
        'Caller-Context': 'public',
        'Hunt-Context': 'public',
        'Channel-State': 'CS_ROUTING',
        variable_domain_name: 'khata.example',
        ...fields,
      }).toString(),
    });
  }

  interface Action {
    application: string;
    data?: string;
  }
  interface Extension {
    name: string;
    condition: { field?: string; expression?: string; action?: Action[] }[];
  }

  function extensionsOf(xml: string): { context: string; extensions: Extension[] } {
    expect(XMLValidator.validate(xml)).toBe(true);
    const document = parser.parse(xml) as {
      document: { type: string; section: { name: string; context: { name: string; extension: Extension[] } } };
    };
    expect(document.document.type).toBe('freeswitch/xml');
    expect(document.document.section.name).toBe('dialplan');
    return { context: document.document.section.context.name, extensions: document.document.section.context.extension };
  }

  const actions = (extension: Extension | undefined): Action[] =>
    extension?.condition.flatMap((condition) => condition.action ?? []) ?? [];

  it("routes a held toll-free number: park for authorization, then ring all the account's extensions at once", async () => {
    const response = await lookup({ 'Caller-Destination-Number': TOLL_FREE, 'Hunt-Destination-Number': TOLL_FREE });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/xml');
    const { context, extensions } = extensionsOf(response.body);
    expect(context).toBe('public');
    const [park, ring] = extensions;
    expect(park?.name).toBe('khata_billing_park');
    expect(park?.condition[0]).toMatchObject({ field: MARKER, expression: '^$' });
    expect(actions(park)).toEqual([
      { application: 'set', data: 'park_timeout=10:RECOVERY_ON_TIMER_EXPIRE' },
      { application: 'park' },
    ]);
    expect(ring?.condition[0]).toMatchObject({ field: MARKER, expression: '^OK$' });
    expect(ring?.condition[1]).toMatchObject({ field: 'destination_number', expression: `^${TOLL_FREE}$` });
    expect(actions(ring)).toContainEqual({
      application: 'bridge',
      data: `user/101@${DOMAIN},user/102@${DOMAIN}`,
    });
    expect(actions(ring)).toContainEqual({ application: 'set', data: `khata_account_id=${accountId}` });
  });

  it('refuses a toll-free number nobody holds, and a number that is no number', async () => {
    for (const dialled of ['18009990000', '*98']) {
      const response = await lookup({ 'Caller-Destination-Number': dialled });
      expect(response.statusCode).toBe(200);
      const { extensions } = extensionsOf(response.body);
      expect(extensions.map((extension) => extension.name)).toEqual(['khata_refuse']);
      expect(actions(extensions[0])).toEqual([
        { application: 'set', data: 'khata_refusal=UNKNOWN_NUMBER' },
        { application: 'hangup', data: 'UNALLOCATED_NUMBER' },
      ]);
    }
  });

  it('refuses the toll-free number of a suspended account', async () => {
    const suspended = await openTestAccount(api.khata, {
      topUp: '1180.00',
      tollFreeNumbers: ['18004190102'],
      extensions: ['201'],
    });
    await runCommand(api.khata, suspended.accountId, 'SuspendAccount', { reason: 'unpaid invoice' });
    await api.settle();
    const response = await lookup({ 'Caller-Destination-Number': '18004190102' });
    const { extensions } = extensionsOf(response.body);
    expect(actions(extensions[0])).toEqual([
      { application: 'set', data: 'khata_refusal=ACCOUNT_SUSPENDED' },
      { application: 'hangup', data: 'CALL_REJECTED' },
    ]);
  });

  it('answers "not found" for other sections and for contexts it does not route', async () => {
    const notFound = (xml: string) => {
      expect(XMLValidator.validate(xml)).toBe(true);
      expect(parser.parse(xml)).toMatchObject({
        document: { type: 'freeswitch/xml', section: { name: 'result', result: { status: 'not found' } } },
      });
    };
    notFound((await lookup({ section: 'directory', 'Caller-Destination-Number': TOLL_FREE })).body);
    notFound((await lookup({ 'Hunt-Context': 'default', 'Caller-Destination-Number': TOLL_FREE })).body);
    // The binding's URL chooses the contexts Khata routes.
    const routed = await lookup(
      { 'Hunt-Context': 'inbound', 'Caller-Destination-Number': TOLL_FREE },
      { url: '/api/freeswitch/dialplan?context=public,inbound' },
    );
    expect(extensionsOf(routed.body).context).toBe('inbound');
  });

  it('refuses requests without the right basic credentials', async () => {
    const response = await lookup({ 'Caller-Destination-Number': TOLL_FREE }, { authorization: '' });
    expect(response.statusCode).toBe(401);
  });
});

describe('one call reported three ways', () => {
  it('charges a call once when its CDR arrives by ESL, as JSON and as XML, in either order', async () => {
    const connected = await connectStandIn(api.khata);
    try {
      const { standIn, node } = connected;
      for (const eslFirst of [true, false]) {
        const { state: opened } = await api.khata.ledger.load(accountId);
        const callId = standIn.park({ callerNumber: CALLER, destination: TOLL_FREE, context: 'public' });
        await standIn.waitForCommand((command) => command.line.startsWith(`api uuid_transfer ${callId}`));
        standIn.answer(callId);
        await node.settled();
        const channel = standIn.channel(callId);
        const facts = call({
          uuid: callId,
          startMicroseconds: channel?.createdAtMicroseconds as number,
          answerMicroseconds: channel?.answeredAtMicroseconds as number,
          endMicroseconds: (channel?.answeredAtMicroseconds as number) + 61_250_000,
        });
        const overHttp = async () => {
          expect((await postCdr(fill(A_LEG_JSON, facts), 'application/json')).statusCode).toBe(200);
          const xml = `cdr=${encodeEventValue(fill(A_LEG_XML, facts))}`;
          expect((await postCdr(xml, 'application/x-www-form-urlencoded')).statusCode).toBe(200);
          await rateRecorded();
        };
        if (!eslFirst) await overHttp();
        standIn.hangup(callId, 'NORMAL_CLEARING', 61_250);
        await node.settled();
        if (eslFirst) await overHttp();
        await eventually(async () => (await ratedCdrs(callId)).length === 1, 'the call to be rated');
        await rateRecorded();

        const rated = await ratedCdrs(callId);
        expect(rated).toHaveLength(1);
        expect(rated[0]).toMatchObject({ billableMilliseconds: 61_250, durationSeconds: 62 });
        const after = (await api.khata.ledger.load(accountId)).state;
        // Free minutes first, then money: each taken once.
        expect(opened.balance.minus(after.balance).toString()).toBe(Money.parse(String(rated[0]?.cost)).toString());
        expect((after.usageMonth?.usedSeconds ?? 0) - (opened.usageMonth?.usedSeconds ?? 0)).toBe(
          rated[0]?.freeSecondsUsed,
        );
        expect(rated[0]?.billedSeconds).toBe(120);
        expect(after.reservations.has(callId)).toBe(false);
        // The worker's own scheduler loop may hold the job (claimed, still `pending`) when runDue looks: wait for it.
        await rateRecorded();
        await eventually(
          async () => (await cdrJobs()).find((job) => job.job_id === `rate-cdr:${callId}`)?.status === 'done',
          'the CDR job to be done',
        );
      }
    } finally {
      await connected.close();
    }
  }, 60_000);
});

describe('FreeSWITCH routes without configured credentials', () => {
  it('refuses every CDR and dialplan request, whatever credentials it brings, and records nothing', async () => {
    const bare = await testApi();
    try {
      const before = await jobs(bare.khata.readDb, { kind: 'rate-cdr' });
      for (const url of ['/api/webhooks/cdr', '/api/freeswitch/dialplan']) {
        const response = await bare.app.inject({
          method: 'POST',
          url,
          headers: { 'content-type': 'application/json', authorization: AUTHORIZATION },
          payload: fill(A_LEG_JSON, call()),
        });
        expect(response.statusCode).toBe(401);
        expect(response.headers['content-type']).toContain('application/problem+json');
        expect(response.json().detail).toMatch(/CDR_WEBHOOK_USER/);
      }
      expect(await jobs(bare.khata.readDb, { kind: 'rate-cdr' })).toEqual(before);
    } finally {
      await bare.close();
    }
  });
});
