import type { SuiteCrmApp } from './app.js';
import { formatDb } from './dates.js';

export interface SeedUser {
  id: string;
  userName: string;
  firstName: string;
  lastName: string;
  status: 'Active' | 'Inactive';
  phoneWork?: string;
  phoneMobile?: string;
  email?: string;
  isAdmin?: boolean;
}

export interface SeedAccount {
  id: string;
  name: string;
  phoneOffice?: string;
  phoneAlternate?: string;
  assignedUserId?: string;
}

export interface SeedPerson {
  id: string;
  firstName: string;
  lastName: string;
  /** Phone fields exactly as a user typed them: SuiteCRM stores them byte for byte. */
  phones: Partial<Record<'phone_work' | 'phone_mobile' | 'phone_home' | 'phone_other', string>>;
  accountId?: string;
  assignedUserId?: string;
  title?: string;
  /** Leads: New, Assigned, Converted, ... */
  status?: string;
  accountName?: string;
  deleted?: boolean;
}

export interface SeedData {
  users: SeedUser[];
  accounts: SeedAccount[];
  contacts: SeedPerson[];
  leads: SeedPerson[];
}

/**
 * The records behind the recordings in testdata/suitecrm, with the recorded ids where a recording
 * shows them. Ids of records no recording shows (Globex UK Ltd, Initech, three leads) are made up
 * in the same style.
 */
export const RECORDED_SEED: SeedData = {
  users: [
    { id: '1', userName: 'admin', firstName: '', lastName: 'Administrator', status: 'Active', isAdmin: true },
    { id: '70617ac6-ec84-d187-9386-6b13148e60eb', userName: 'agent.alice', firstName: 'Alice', lastName: 'Agent', status: 'Active', phoneWork: '101', email: 'alice.agent@example.test' },
    { id: '8f6423f9-757a-980d-7341-6b13145dcbe9', userName: 'agent.bob', firstName: 'Bob', lastName: 'Agent', status: 'Active', phoneWork: '102' },
    { id: '9797f460-427d-9ae6-265f-6b131408ab68', userName: 'agent.carol', firstName: 'Carol', lastName: 'Agent', status: 'Inactive', phoneWork: '103', phoneMobile: '+1 555 010 0103' },
  ],
  accounts: [
    { id: '9e0af96c-a91d-46de-ba2e-6b1314b0243b', name: 'Acme Corp', phoneOffice: '+1 555 010 0100', phoneAlternate: '555-010-0101', assignedUserId: '70617ac6-ec84-d187-9386-6b13148e60eb' },
    { id: 'a8805c73-09be-9357-dc5e-6b13140946a8', name: 'Hall Logistics', phoneOffice: '+1 555 010 0008', assignedUserId: '8f6423f9-757a-980d-7341-6b13145dcbe9' },
    { id: 'b2c41f07-5d3e-8a19-0c6b-6b1314a1c0de', name: 'Globex UK Ltd', phoneOffice: '+44 20 7946 0000', phoneAlternate: '020 7946 0018' },
    { id: 'c5d02e18-6e4f-9b2a-1d7c-6b1314b2d1ef', name: 'Initech', phoneOffice: '(555) 010-0104' },
    { id: 'bd3281cc-42a3-ec32-5bf0-6b1314edad75', name: 'Umbrella Inc', phoneOffice: '5550100105', phoneAlternate: '+15550100106' },
  ],
  contacts: [
    { id: 'c3c2da96-f7da-cfe7-78a9-6b1314bc53e3', firstName: 'Alicia', lastName: 'Anders', phones: { phone_work: '+1 555 010 0001' }, accountId: '9e0af96c-a91d-46de-ba2e-6b1314b0243b', assignedUserId: '70617ac6-ec84-d187-9386-6b13148e60eb', title: 'Purchasing Manager' },
    { id: 'cc441854-52c0-6ee1-cf4b-6b1314f988e7', firstName: 'Bruno', lastName: 'Brown', phones: { phone_mobile: '(555) 010-0002' }, assignedUserId: '8f6423f9-757a-980d-7341-6b13145dcbe9' },
    { id: 'd3a199ba-eb20-fa84-80e8-6b13149bc147', firstName: 'Carla', lastName: 'Chen', phones: { phone_home: '555.010.0003' } },
    { id: 'da9f5508-a246-3f6a-c281-6b131410d54b', firstName: 'David', lastName: 'Diaz', phones: { phone_other: '5550100004' }, accountId: 'c5d02e18-6e4f-9b2a-1d7c-6b1314b2d1ef' },
    { id: 'e266229c-c519-99ae-8c4f-6b1314162658', firstName: 'Emma', lastName: 'Evans', phones: { phone_mobile: '+15550100005' } },
    { id: 'e9ea242e-a6c6-7377-4011-6b131496d856', firstName: 'Frank', lastName: 'Fischer', phones: { phone_work: '001 555 010 0006' } },
    { id: 'f1f565ca-0bc4-a9d7-f0fa-6b1314309439', firstName: 'Grace', lastName: 'Green', phones: { phone_mobile: '+44 20 7946 0018' }, accountId: 'b2c41f07-5d3e-8a19-0c6b-6b1314a1c0de' },
    { id: '88a800f4-57bd-bb77-abee-6b13140532cb', firstName: 'Henry', lastName: 'Hall', phones: { phone_work: '+1 555 010 0008' }, accountId: 'a8805c73-09be-9357-dc5e-6b13140946a8' },
    { id: '10d8bd59-552b-7e28-64c2-6b131488ee64', firstName: 'Ivy', lastName: 'Ito', phones: { phone_mobile: '+1 555 010 0009' } },
    { id: '187c61da-de80-5301-59fe-6b1314172634', firstName: 'Jack', lastName: 'Jones', phones: { phone_home: '+1 555 010 0009' } },
    { id: '1fdae31c-d2f8-4459-4e76-6b1314ab9616', firstName: 'Liam', lastName: 'Lopez', phones: { phone_work: '+1 (555) 010-0012 x34', phone_mobile: '+1 555 010 0013' } },
    { id: '27f33f32-457c-e006-abf3-6b131468c6f0', firstName: 'Kate', lastName: 'Kelly', phones: { phone_mobile: '+1 555 010 0011' }, deleted: true },
  ],
  leads: [
    { id: 'd7e13f29-7f5a-0c3b-2e8d-6b1314c3e2f0', firstName: 'Lena', lastName: 'Lead', phones: { phone_mobile: '+1 555 010 0201' }, status: 'New' },
    { id: 'e8f24a3a-806b-1d4c-3f9e-6b1314d4f301', firstName: 'Mark', lastName: 'Moore', phones: { phone_work: '(555) 010-0202' }, status: 'New' },
    { id: 'f9a35b4b-917c-2e5d-40af-6b1314e50412', firstName: 'Nora', lastName: 'North', phones: { phone_home: '555.010.0203' }, status: 'New' },
    { id: '469e918d-ea3a-636b-fc98-6b13146b5d19', firstName: 'Oscar', lastName: 'Ortiz', phones: { phone_other: '+15550100204', phone_work: '5550100002' }, status: 'New' },
    { id: '4e0e3dbd-d003-67c4-4ccc-6b13141f66bf', firstName: 'Paula', lastName: 'Park', phones: { phone_mobile: '+1 555 010 0001' }, status: 'Converted' },
  ],
};

/**
 * The demo CRM of `pnpm start`: the callers of the recorded PBX calls (Alice Example, Carlos
 * Rivera, Bob Remote) and of the ElevenLabs fixtures (Renée Okonkwo, Marcus, with the contact ids
 * those fixtures carry), and one User per extension of the recorded PBX (phone_work 101-103).
 */
export const DEMO_SEED: SeedData = {
  users: [
    { id: '1', userName: 'admin', firstName: '', lastName: 'Administrator', status: 'Active', isAdmin: true },
    { id: 'a1b2c3d4-0101-4c1a-9e01-000000000101', userName: 'anna.lee', firstName: 'Anna', lastName: 'Lee', status: 'Active', phoneWork: '101' },
    { id: 'a1b2c3d4-0102-4c1a-9e01-000000000102', userName: 'ben.ortiz', firstName: 'Ben', lastName: 'Ortiz', status: 'Active', phoneWork: '102' },
    { id: 'a1b2c3d4-0103-4c1a-9e01-000000000103', userName: 'cara.diaz', firstName: 'Cara', lastName: 'Diaz', status: 'Active', phoneWork: '103' },
  ],
  accounts: [
    { id: 'b1000000-0000-4000-8000-000000000001', name: 'Example Freight Ltd', phoneOffice: '+1 555 010 0150', assignedUserId: 'a1b2c3d4-0101-4c1a-9e01-000000000101' },
    { id: 'b1000000-0000-4000-8000-000000000002', name: 'Harbor Lane Bakery', phoneOffice: '(415) 555-0140', assignedUserId: 'a1b2c3d4-0102-4c1a-9e01-000000000102' },
    { id: 'b1000000-0000-4000-8000-000000000003', name: 'Riverside Dental', phoneOffice: '+1 415 555 0190' },
  ],
  contacts: [
    { id: 'c1000000-0000-4000-8000-000000000001', firstName: 'Alice', lastName: 'Example', phones: { phone_mobile: '+1 555 010 0001' }, accountId: 'b1000000-0000-4000-8000-000000000001', assignedUserId: 'a1b2c3d4-0101-4c1a-9e01-000000000101', title: 'Operations Manager' },
    { id: 'c1000000-0000-4000-8000-000000000002', firstName: 'Carlos', lastName: 'Rivera', phones: { phone_work: '(555) 010-0002' }, assignedUserId: 'a1b2c3d4-0102-4c1a-9e01-000000000102' },
    { id: 'c1000000-0000-4000-8000-000000000003', firstName: 'Bob', lastName: 'Remote', phones: { phone_work: '555-010-0099' } },
    { id: '5b9e0c4a-1f2d-4e8a-9c61-7d0f3a2b1e55', firstName: 'Renée', lastName: 'Okonkwo', phones: { phone_mobile: '+14155550142' }, accountId: 'b1000000-0000-4000-8000-000000000002', title: 'Owner' },
    { id: 'c2f7a913-6d84-4b0e-b5a2-90e1d4c7f318', firstName: 'Marcus', lastName: 'Bell', phones: { phone_work: '415.555.0177' }, accountId: 'b1000000-0000-4000-8000-000000000003' },
  ],
  leads: [
    { id: 'd1000000-0000-4000-8000-000000000001', firstName: 'Dana', lastName: 'Whitfield', phones: { phone_mobile: '+1 (415) 555-0163' }, status: 'Assigned', accountName: 'Whitfield Florist' },
  ],
};

/** Writes seed records straight into the simulator's tables. */
export function applySeed(app: SuiteCrmApp, seed: SeedData, createdAt: number): void {
  const stamp = formatDb(createdAt);
  const common = (assignedUserId?: string) => ({
    date_entered: stamp,
    date_modified: stamp,
    created_by: '1',
    modified_user_id: '1',
    assigned_user_id: assignedUserId ?? null,
  });

  for (const user of seed.users) {
    app.db.insert('Users', user.id, {
      ...common(),
      user_name: user.userName,
      first_name: user.firstName,
      last_name: user.lastName,
      status: user.status,
      employee_status: 'Active',
      is_admin: user.isAdmin === true ? '1' : '0',
      phone_work: user.phoneWork ?? null,
      phone_mobile: user.phoneMobile ?? null,
      email1: user.email ?? null,
      receive_notifications: '1',
      portal_only: '0',
      show_on_employees: '1',
      is_group: '0',
    });
  }
  for (const account of seed.accounts) {
    app.db.insert('Accounts', account.id, {
      ...common(account.assignedUserId),
      name: account.name,
      phone_office: account.phoneOffice ?? null,
      phone_alternate: account.phoneAlternate ?? null,
    });
  }
  for (const contact of seed.contacts) {
    app.db.insert('Contacts', contact.id, {
      ...common(contact.assignedUserId),
      first_name: contact.firstName,
      last_name: contact.lastName,
      title: contact.title ?? null,
      do_not_call: '0',
      portal_user_type: 'Single',
      ...contact.phones,
    });
    if (contact.accountId !== undefined) {
      app.db.relate('accounts_contacts', contact.accountId, contact.id);
    }
    if (contact.deleted === true) {
      app.db.markDeleted('Contacts', contact.id);
    }
  }
  for (const lead of seed.leads) {
    app.db.insert('Leads', lead.id, {
      ...common(lead.assignedUserId),
      first_name: lead.firstName,
      last_name: lead.lastName,
      status: lead.status ?? 'New',
      account_name: lead.accountName ?? null,
      converted: lead.status === 'Converted' ? '1' : '0',
      do_not_call: '0',
      ...lead.phones,
    });
  }
}

/** One caller of the recorded seed and the records a lookup must return for it, best first. */
export interface LookupCase {
  /** The number in E.164. */
  number: string;
  expected: { module: 'Contacts' | 'Accounts' | 'Leads'; id: string; field: string }[];
}

const ALICIA = 'c3c2da96-f7da-cfe7-78a9-6b1314bc53e3';

/**
 * Every lookup the recordings' README describes, over the recorded seed: which records hold
 * each number, whatever format the CRM stored it in, and in which order a lookup ranks them.
 */
export const RECORDED_LOOKUP_CASES: LookupCase[] = [
  { number: '+15550100001', expected: [{ module: 'Contacts', id: ALICIA, field: 'phone_work' }, { module: 'Leads', id: '4e0e3dbd-d003-67c4-4ccc-6b13141f66bf', field: 'phone_mobile' }] },
  { number: '+15550100002', expected: [{ module: 'Contacts', id: 'cc441854-52c0-6ee1-cf4b-6b1314f988e7', field: 'phone_mobile' }, { module: 'Leads', id: '469e918d-ea3a-636b-fc98-6b13146b5d19', field: 'phone_work' }] },
  { number: '+15550100003', expected: [{ module: 'Contacts', id: 'd3a199ba-eb20-fa84-80e8-6b13149bc147', field: 'phone_home' }] },
  { number: '+15550100004', expected: [{ module: 'Contacts', id: 'da9f5508-a246-3f6a-c281-6b131410d54b', field: 'phone_other' }] },
  { number: '+15550100005', expected: [{ module: 'Contacts', id: 'e266229c-c519-99ae-8c4f-6b1314162658', field: 'phone_mobile' }] },
  { number: '+15550100006', expected: [{ module: 'Contacts', id: 'e9ea242e-a6c6-7377-4011-6b131496d856', field: 'phone_work' }] },
  { number: '+442079460018', expected: [{ module: 'Contacts', id: 'f1f565ca-0bc4-a9d7-f0fa-6b1314309439', field: 'phone_mobile' }, { module: 'Accounts', id: 'b2c41f07-5d3e-8a19-0c6b-6b1314a1c0de', field: 'phone_alternate' }] },
  { number: '+15550100008', expected: [{ module: 'Contacts', id: '88a800f4-57bd-bb77-abee-6b13140532cb', field: 'phone_work' }, { module: 'Accounts', id: 'a8805c73-09be-9357-dc5e-6b13140946a8', field: 'phone_office' }] },
  { number: '+15550100009', expected: [{ module: 'Contacts', id: '10d8bd59-552b-7e28-64c2-6b131488ee64', field: 'phone_mobile' }, { module: 'Contacts', id: '187c61da-de80-5301-59fe-6b1314172634', field: 'phone_home' }] },
  // Kate Kelly has this number but was deleted: SuiteCRM never returns her.
  { number: '+15550100011', expected: [] },
  { number: '+15550100012', expected: [{ module: 'Contacts', id: '1fdae31c-d2f8-4459-4e76-6b1314ab9616', field: 'phone_work' }] },
  { number: '+15550100013', expected: [{ module: 'Contacts', id: '1fdae31c-d2f8-4459-4e76-6b1314ab9616', field: 'phone_mobile' }] },
  { number: '+15550100100', expected: [{ module: 'Accounts', id: '9e0af96c-a91d-46de-ba2e-6b1314b0243b', field: 'phone_office' }] },
  { number: '+15550100101', expected: [{ module: 'Accounts', id: '9e0af96c-a91d-46de-ba2e-6b1314b0243b', field: 'phone_alternate' }] },
  { number: '+15550100104', expected: [{ module: 'Accounts', id: 'c5d02e18-6e4f-9b2a-1d7c-6b1314b2d1ef', field: 'phone_office' }] },
  { number: '+15550100105', expected: [{ module: 'Accounts', id: 'bd3281cc-42a3-ec32-5bf0-6b1314edad75', field: 'phone_office' }] },
  { number: '+15550100106', expected: [{ module: 'Accounts', id: 'bd3281cc-42a3-ec32-5bf0-6b1314edad75', field: 'phone_alternate' }] },
  { number: '+15550100201', expected: [{ module: 'Leads', id: 'd7e13f29-7f5a-0c3b-2e8d-6b1314c3e2f0', field: 'phone_mobile' }] },
  { number: '+15550100202', expected: [{ module: 'Leads', id: 'e8f24a3a-806b-1d4c-3f9e-6b1314d4f301', field: 'phone_work' }] },
  { number: '+15550100203', expected: [{ module: 'Leads', id: 'f9a35b4b-917c-2e5d-40af-6b1314e50412', field: 'phone_home' }] },
  { number: '+15550100204', expected: [{ module: 'Leads', id: '469e918d-ea3a-636b-fc98-6b13146b5d19', field: 'phone_other' }] },
  // Liam Lopez's "+1 (555) 010-0012 x34" contains these digits in order: SuiteCRM's LIKE finds
  // him, the digit re-check must not.
  { number: '+15550100123', expected: [] },
  { number: '+15550109999', expected: [] },
];

/** The ways a PBX or a provider may write one number (default region US). */
export function numberFormats(e164: string): string[] {
  if (e164.startsWith('+1')) {
    const national = e164.slice(2);
    const area = national.slice(0, 3);
    const exchange = national.slice(3, 6);
    const line = national.slice(6);
    return [e164, `+1 ${area} ${exchange} ${line}`, `(${area}) ${exchange}-${line}`, `${area}.${exchange}.${line}`, national, `1${national}`, `001 ${area} ${exchange} ${line}`, `011 1 ${national}`];
  }
  const digits = e164.slice(1);
  return [e164, `00${digits}`, `011 ${digits}`, `+${digits.slice(0, 2)} ${digits.slice(2, 4)} ${digits.slice(4, 8)} ${digits.slice(8)}`];
}
