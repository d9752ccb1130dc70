import { describe, expect, it } from 'vitest';
import { createValidator } from '../validator.ts';
import { AccountCommand, accountCommandSchemas } from './commands.ts';
import { accountEventSchemas, CURRENT_EVENT_VERSION, legacyAccountEventSchemas } from './events.ts';

const accountId = '6f1c2f0e-8d1a-4c1e-9c2b-3f4a5b6c7d8e';
const commandId = '0b8e6a52-52a3-4f0a-8f7e-2c9d1e3f4a5b';

describe('account schemas', () => {
  it('compile under strict Ajv, one schema per command and event version', () => {
    for (const schema of [...accountCommandSchemas, AccountCommand])
      expect(() => createValidator(schema)).not.toThrow();
    for (const schema of [...Object.values(accountEventSchemas), ...Object.values(legacyAccountEventSchemas)]) {
      expect(() => createValidator(schema)).not.toThrow();
    }
    expect(Object.keys(CURRENT_EVENT_VERSION).sort()).toEqual(Object.keys(accountEventSchemas).sort());
  });

  const validate = createValidator(AccountCommand);

  it('accepts a well-formed command', () => {
    const result = validate({
      type: 'OpenAccount',
      commandId,
      accountId,
      legalName: 'Acme Telecom Pvt Ltd',
      contact: { name: 'Asha', email: 'asha@acme.example', phone: '+91 98450 00000' },
      billingAddress: { line1: '1 MG Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
      billingMode: 'prepaid',
    });
    expect(result.ok).toBe(true);
  });

  it('refuses money as a JSON number, unknown fields and missing ids', () => {
    expect(validate({ type: 'AdjustWallet', commandId, accountId, amount: 10.5, reason: 'x' }).ok).toBe(false);
    expect(validate({ type: 'AdjustWallet', commandId, accountId, amount: '10.5', reason: 'x', extra: 1 }).ok).toBe(
      false,
    );
    expect(validate({ type: 'AdjustWallet', accountId, amount: '10.5', reason: 'x' }).ok).toBe(false);
    expect(validate({ type: 'AdjustWallet', commandId, accountId, amount: '10.50', reason: 'goodwill' }).ok).toBe(true);
    expect(validate({ type: 'TopUpWallet', commandId, accountId, amount: '0.00' }).ok).toBe(false);
    expect(validate({ type: 'TopUpWallet', commandId, accountId, amount: '500.001' }).ok).toBe(false);
  });
});
