import type { Directory } from '../../shared/model/directory';
import type { RecordWrite } from '../../shared/store/port';
import { SeededRandom } from './seeded-random';

const CITIES = [
  'Seattle',
  'Redmond',
  'Boston',
  'Austin',
  'Denver',
  'Chicago',
  'Atlanta',
  'Portland',
  'Miami',
  'Phoenix',
];
const WORDS = [
  'strategic',
  'renewal',
  'pipeline',
  'quarterly',
  'install',
  'upgrade',
  'service',
  'contract',
  'pricing',
  'follow-up',
  'onsite',
  'demo',
  'expansion',
  'support',
  'warranty',
  'training',
  'logistics',
  'inventory',
];
const COMPANIES = [
  'Fabrikam',
  'Northwind',
  'Tailspin',
  'Litware',
  'Adventure Works',
  'Proseware',
  'Wingtip',
  'Woodgrove',
];

/** Share of generated rows per entity (accounts first: other rows point at them). */
const SHARES: ReadonlyArray<[entity: string, share: number]> = [
  ['account', 0.15],
  ['contact', 0.3],
  ['lead', 0.1],
  ['opportunity', 0.15],
  ['task', 0.3],
];

/** The business rows of an entity out of `rows` (at least one each). */
const rowsOf = (rows: number, share: number): number => Math.max(1, Math.round(rows * share));

/**
 * How many rows {@link generateDemoRecords} yields per entity, without generating them (a 200,000-row
 * tenant takes seconds to generate). Each entity's rows come in one block, in this map's order.
 */
export function demoRecordCounts(directory: Directory, rows: number): Map<string, number> {
  return new Map<string, number>([
    ['businessunit', directory.businessUnits.length],
    ['systemuser', directory.users.length],
    ['team', directory.teams.length],
    ...SHARES.map(([entity, share]): [string, number] => [entity, rowsOf(rows, share)]),
  ]);
}

function sentence(random: SeededRandom, words: number): string {
  return Array.from({ length: words }, () => random.pick(WORDS)).join(' ');
}

/**
 * Deterministic demo rows: `rows` business rows (about 650 bytes each) owned by the demo's users and
 * teams, linked to each other, plus one row per user, team and business unit. The same seed and
 * `now` always produce the same rows; `modifiedon` falls within the 7 days before `now`.
 */
export function* generateDemoRecords(
  directory: Directory,
  options: { seed: number; rows: number; now: Date },
): Generator<RecordWrite> {
  const random = new SeededRandom(options.seed ^ 0x5eed);
  const nowMs = options.now.getTime();
  const isoWithin = (days: number): string =>
    new Date(nowMs - Math.floor(random.next() * days * 86_400_000)).toISOString();
  const sellers = directory.users.filter((u) => u.managerId !== null);
  const ids: Record<string, string[]> = {};

  const owner = (): Record<string, unknown> => {
    // Mostly user-owned; one row in ten owned by a team, as in real sales orgs.
    if (random.next() < 0.1 && directory.teams.length > 0) {
      const team = random.pick(directory.teams);
      return { ownerid: team.id, owneridtype: 'team', owningbusinessunit: team.businessUnitId };
    }
    const user = random.pick(sellers);
    return { ownerid: user.id, owneridtype: 'systemuser', owningbusinessunit: user.businessUnitId };
  };
  const someId = (entity: string): string | null => {
    const list = ids[entity];
    return list && list.length > 0 ? random.pick(list) : null;
  };
  const write = (entity: string, id: string, attributes: Record<string, unknown>): RecordWrite => ({
    entity,
    id,
    version: '1',
    deleted: false,
    attributes,
  });

  for (const bu of directory.businessUnits) {
    yield write('businessunit', bu.id, {
      businessunitid: bu.id,
      name: bu.name,
      parentbusinessunitid: bu.parentId,
      owningbusinessunit: bu.id,
      modifiedon: isoWithin(7),
    });
  }
  for (const user of directory.users) {
    yield write('systemuser', user.id, {
      systemuserid: user.id,
      fullname: user.fullName,
      domainname: `${user.userName}@contoso.example`,
      businessunitid: user.businessUnitId,
      parentsystemuserid: user.managerId,
      owningbusinessunit: user.businessUnitId,
      modifiedon: isoWithin(7),
    });
  }
  for (const team of directory.teams) {
    yield write('team', team.id, {
      teamid: team.id,
      name: team.name,
      businessunitid: team.businessUnitId,
      owningbusinessunit: team.businessUnitId,
      modifiedon: isoWithin(7),
    });
  }

  for (const [entity, share] of SHARES) {
    const count = rowsOf(options.rows, share);
    const list: string[] = (ids[entity] = []);
    for (let i = 0; i < count; i++) {
      const id = random.uuid();
      list.push(id);
      const common = { ...owner(), createdon: isoWithin(30), modifiedon: isoWithin(7) };
      const city = random.pick(CITIES);
      const company = `${random.pick(COMPANIES)} ${city} ${i}`;
      switch (entity) {
        case 'account':
          yield write(entity, id, {
            accountid: id,
            name: company,
            accountnumber: `AC-${String(i).padStart(6, '0')}`,
            telephone1: `+1-555-${String(random.int(0, 9999)).padStart(4, '0')}`,
            emailaddress1: `info${i}@${company.split(' ')[0]!.toLowerCase()}.example`,
            websiteurl: `https://www.${company.split(' ')[0]!.toLowerCase()}.example`,
            address1_line1: `${random.int(1, 9999)} ${random.pick(WORDS)} street`,
            address1_city: city,
            address1_postalcode: String(random.int(10000, 99999)),
            address1_country: 'United States',
            revenue: random.int(100, 50_000) * 1000,
            creditlimit: random.int(10, 500) * 1000,
            numberofemployees: random.int(5, 5000),
            industrycode: random.int(1, 30),
            description: sentence(random, 24),
            primarycontactid: null,
            ...common,
          });
          break;
        case 'contact': {
          const first = random.pick([
            'Ana',
            'Ben',
            'Chen',
            'Dara',
            'Eli',
            'Fatima',
            'Goran',
            'Hana',
            'Ilse',
            'Jon',
          ]);
          const last = random.pick(['Smith', 'Garcia', 'Kim', 'Novak', 'Okafor', 'Rossi', 'Silva', 'Tanaka']);
          yield write(entity, id, {
            contactid: id,
            fullname: `${first} ${last}`,
            firstname: first,
            lastname: last,
            jobtitle: random.pick(['Buyer', 'CTO', 'Office manager', 'Engineer', 'CFO', 'Plant manager']),
            emailaddress1: `${first.toLowerCase()}.${last.toLowerCase()}${i}@example.com`,
            telephone1: `+1-555-${String(random.int(0, 9999)).padStart(4, '0')}`,
            mobilephone: `+1-555-${String(random.int(0, 9999)).padStart(4, '0')}`,
            address1_city: city,
            description: sentence(random, 22),
            parentcustomerid: someId('account'),
            preferredlanguage: random.pick([1033, 1031, 1036]),
            ...common,
          });
          break;
        }
        case 'lead':
          yield write(entity, id, {
            leadid: id,
            subject: `Interest in ${sentence(random, 3)}`,
            companyname: company,
            fullname: `${random.pick(['Kai', 'Lena', 'Milo', 'Nora'])} ${random.pick(['Berg', 'Costa', 'Diaz'])}`,
            emailaddress1: `lead${i}@example.com`,
            telephone1: `+1-555-${String(random.int(0, 9999)).padStart(4, '0')}`,
            estimatedamount: random.int(1, 500) * 100,
            leadqualitycode: random.int(1, 3),
            description: sentence(random, 24),
            parentaccountid: random.next() < 0.5 ? someId('account') : null,
            ...common,
          });
          break;
        case 'opportunity':
          yield write(entity, id, {
            opportunityid: id,
            name: `${random.pick(WORDS)} deal for ${company}`,
            estimatedvalue: random.int(1, 1000) * 500,
            closeprobability: random.int(5, 95),
            estimatedclosedate: new Date(nowMs + random.int(1, 120) * 86_400_000).toISOString(),
            stepname: random.pick(['1-Qualify', '2-Develop', '3-Propose', '4-Close']),
            description: sentence(random, 22),
            parentaccountid: someId('account'),
            parentcontactid: someId('contact'),
            ...common,
          });
          break;
        default:
          yield write(entity, id, {
            activityid: id,
            subject: `Call about ${sentence(random, 3)}`,
            description: sentence(random, 26),
            scheduledend: new Date(nowMs + random.int(-10, 30) * 86_400_000).toISOString(),
            prioritycode: random.int(0, 2),
            statecode: 0,
            regardingobjectid: someId(random.pick(['account', 'contact', 'opportunity'])),
            ...common,
          });
      }
    }
  }
}
