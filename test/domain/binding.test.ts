import { describe, expect, it } from 'vitest';
import { bindingMismatch, bindingUsesNote, clientListParser, parseClientEmail, parseClientId } from '../../src/domain/binding.js';

describe('binding rules', () => {
  it('client ids are whole numbers from 1 to 2^31-1; e-mails need a local part, an @ and a dotted domain', () => {
    expect([parseClientId('42'), parseClientId(42), parseClientId(' 7 '), parseClientId(''), parseClientId(null)]).toEqual([42, 42, 7, null, null]);
    for (const bad of ['0', '-1', '1.5', '1e3', 'x', '2147483648', 42.5, true]) expect(parseClientId(bad), String(bad)).toBe('invalid');
    expect(parseClientEmail(' Ann@Example.com ')).toBe('Ann@Example.com');
    for (const bad of ['ann', 'ann@', '@x.com', 'a b@x.com', 'ann@x', 'ann@x.', 3]) expect(parseClientEmail(bad), String(bad)).toBe('invalid');
  });

  it('every attribute both sides name must match (the e-mail ignoring case); none named is client_required', () => {
    const both = { client_id: 42, client_email: 'ann@example.com' };
    const cases: [Parameters<typeof bindingMismatch>[1], ReturnType<typeof bindingMismatch>][] = [
      [{ clientId: '42', clientEmail: null }, null],
      [{ clientId: null, clientEmail: 'ANN@example.com' }, null],
      [{ clientId: '42', clientEmail: 'ann@example.com' }, null],
      [{ clientId: '43', clientEmail: null }, 'other_client'],
      [{ clientId: '42', clientEmail: 'bob@example.com' }, 'other_client'],
      [{ clientId: null, clientEmail: null }, 'client_required'],
      [{ clientId: ' ', clientEmail: '' }, 'client_required'],
    ];
    for (const [customer, expected] of cases) expect(bindingMismatch(both, customer), JSON.stringify(customer)).toBe(expected);
    // Bound to an id only: an e-mail alone cannot prove who it is.
    expect(bindingMismatch({ client_id: 42, client_email: null }, { clientId: null, clientEmail: 'ann@example.com' })).toBe('client_required');
    expect(bindingMismatch(null, { clientId: null, clientEmail: null })).toBeNull();
  });

  it('reads customer lists as JSON or CSV, with or without a header, mixed lines included', () => {
    const parse = (v: unknown) => clientListParser.safeParse(v);
    expect(parse([{ client_id: '5' }, 'eve@example.com', 6]).data).toEqual([
      { client_id: 5, client_email: null }, { client_id: null, client_email: 'eve@example.com' }, { client_id: 6, client_email: null },
    ]);
    expect(parse('client_email,client_id\na@example.com,1\nb@example.com,\n').data).toEqual([{ client_id: 1, client_email: 'a@example.com' }, { client_id: null, client_email: 'b@example.com' }]);
    expect(parse('42\r\nann@example.com\n43, bob@example.com').data).toEqual([
      { client_id: 42, client_email: null }, { client_id: null, client_email: 'ann@example.com' }, { client_id: 43, client_email: 'bob@example.com' },
    ]);
    expect(parse('1,2').error?.issues[0].message).toBe('Line 1 of the clients list names two client ids; give one client id and/or one e-mail a line.');
    expect(parse('client_id,name\n1,x').error?.issues[0].message).toBe('The clients CSV header may name only client_id and client_email; it has "name".');
    expect(parse(5).error?.issues[0].message).toBe('The clients must be a JSON array of {client_id, client_email} or CSV text.');
  });

  it('says what binding means for codes usable more than once', () => {
    expect(bindingUsesNote(1)).toBeNull();
    expect(bindingUsesNote(0)).toBe('A bound code of this set can be used any number of times, and every use must be by the bound customer.');
    expect(bindingUsesNote(5)).toBe('A bound code of this set can be used up to 5 times, and every use must be by the bound customer.');
  });
});
