import { base, en, en_AU, en_GB, en_US, Faker } from '@faker-js/faker';
import { enrolIntegration } from '../app/enrol-integration.ts';
import type { ApiKeyIssuer, Clock, IdSource, StaffCredentialKit, Store } from '../app/ports.ts';
import { registerCustomers } from '../app/register-customers.ts';
import { enrolStaffMember } from '../app/staff-sign-in.ts';
import type { Role } from '../core/change-request-types.ts';
import { newCustomer } from '../core/customer-fns.ts';
import type { Customer } from '../core/customer-types.ts';

export interface DemoCredentials {
  readonly staff: {
    email: string;
    displayName: string;
    role: Role;
    apiKey: string;
    password: string;
    totpSecret: string;
  }[];
  readonly integration: { name: string; apiKey: string };
}

const STAFF: { displayName: string; role: Role }[] = [
  { displayName: 'Riley Representative', role: 'representative' },
  { displayName: 'Sam Representative', role: 'representative' },
  { displayName: 'Taylor Team Lead', role: 'team_lead' },
  { displayName: 'Jordan Team Lead', role: 'team_lead' },
  { displayName: 'Morgan Manager', role: 'manager' },
  { displayName: 'Avery Auditor', role: 'auditor' },
  { displayName: 'Alex Admin', role: 'admin' },
];

type Country = 'AU' | 'GB' | 'US';
const FAKERS: Record<Country, Faker> = {
  AU: new Faker({ locale: [en_AU, en, base] }),
  GB: new Faker({ locale: [en_GB, en, base] }),
  US: new Faker({ locale: [en_US, en, base] }),
};

// Numbers in ranges set aside for drama and testing, so demo data never rings a real person.
const phoneFor = (country: Country, faker: Faker): string =>
  country === 'AU'
    ? `+614${faker.string.numeric(8)}`
    : country === 'GB'
      ? `+447700900${faker.string.numeric(3)}`
      : `+1${faker.helpers.arrayElement(['212', '312', '415', '617'])}55501${faker.string.numeric(2)}`;

const postcodeFor = (country: Country, faker: Faker): string =>
  country === 'AU'
    ? faker.string.numeric({ length: 4, exclude: ['0'] })
    : country === 'GB'
      ? `${faker.helpers.arrayElement(['SW1A', 'EC1A', 'M1', 'B33', 'LS1', 'CR2'])} ${faker.string.numeric(1)}${faker.string.alpha({ length: 2, casing: 'upper' })}`
      : faker.string.numeric(5);

/** A synthetic but realistic customer: names, addresses and consents as the three locales would have them. */
function demoCustomer(index: number, ids: IdSource, now: string): Customer | null {
  const country = (['AU', 'GB', 'US'] as const)[index % 3]!;
  const faker = FAKERS[country];
  faker.seed(index + 1);
  const firstName = faker.person.firstName();
  const lastName = faker.person.lastName();
  const built = newCustomer(
    {
      legalName: `${firstName} ${lastName}`,
      preferredName: index % 4 === 0 ? firstName : undefined,
      email:
        `${firstName}.${lastName}.${index}@example.${country === 'AU' ? 'com.au' : country === 'GB' ? 'co.uk' : 'com'}`
          .toLowerCase()
          .replace(/[^a-z0-9.@-]/g, ''),
      phone: phoneFor(country, faker),
      postalAddress: {
        lines: [faker.location.streetAddress()],
        locality: faker.location.city(),
        region: country === 'GB' ? null : faker.location.state({ abbreviated: true }),
        postcode: postcodeFor(country, faker),
        country,
      },
      dateOfBirth: faker.date
        .birthdate({ min: 18, max: 90, mode: 'age', refDate: now })
        .toISOString()
        .slice(0, 10),
      communicationPreferences: {
        email: faker.datatype.boolean(),
        sms: faker.datatype.boolean(),
        post: faker.datatype.boolean(0.3),
        phone: false,
      },
    },
    { id: ids.newId(), now, source: 'demo' },
  );
  return built.ok ? built.value : null;
}

type Deps = {
  readonly store: Store;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly keys: ApiKeyIssuer;
  readonly credentials: StaffCredentialKit;
};

/**
 * Seeds synthetic customers, the staff of a small team (one per role) and an integration key, in one
 * transaction: a seed cut short leaves nothing half-made.
 */
export function seedDemoData(deps: Deps, customerCount: number): Promise<DemoCredentials> {
  return deps.store.transaction((store) => seed({ ...deps, store }, customerCount));
}

async function seed(deps: Deps, customerCount: number): Promise<DemoCredentials> {
  const now = deps.clock.now().toISOString();
  const customers: Customer[] = [];
  for (let index = 0; customers.length < customerCount; index += 1) {
    const customer = demoCustomer(index, deps.ids, now);
    if (customer) customers.push(customer);
  }
  for (let start = 0; start < customers.length; start += 500) {
    await registerCustomers(
      deps.store,
      customers.slice(start, start + 500),
      { kind: 'system', id: 'demo', role: null },
      'demo',
    );
  }
  const staff: DemoCredentials['staff'] = [];
  for (const member of STAFF) {
    const email = `${member.displayName.split(' ')[0]!.toLowerCase()}@demo.amend.test`;
    const enrolled = await enrolStaffMember(deps, {
      email,
      displayName: member.displayName,
      role: member.role,
    });
    if (!enrolled.ok) throw new Error(enrolled.error.message);
    staff.push({
      email,
      displayName: member.displayName,
      role: member.role,
      apiKey: enrolled.value.apiKey,
      password: enrolled.value.initialPassword,
      totpSecret: enrolled.value.totpSecret,
    });
  }
  const integration = await enrolIntegration(deps, 'Demo CRM integration');
  return { staff, integration: { name: 'Demo CRM integration', apiKey: integration.apiKey } };
}
