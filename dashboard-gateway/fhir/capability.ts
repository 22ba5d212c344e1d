/** The CapabilityStatement at /fhir/metadata: what this read-only facade serves. Pure. */
import { SD, VITALS } from './resources.js';

const iso = (ts: number): string => new Date(ts).toISOString();
const paging = [
  { name: '_count', type: 'number', documentation: 'Page size; default 100, at most 1000' },
  { name: '_offset', type: 'number', documentation: 'Where the page starts; the Bundle\'s next/previous links carry it' },
];

export function capabilityStatement(base: string, now: number): Record<string, unknown> {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: iso(now),
    publisher: 'Vitalstream',
    kind: 'instance',
    software: { name: 'Vitalstream gateway' },
    implementation: { description: 'Vitalstream FHIR R4 read-only facade: vital signs and NEWS2', url: base },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        security: {
          cors: false,
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'OAuth', display: 'OAuth' }] }],
          description: 'Bearer JWT (OIDC or local); access by role and ward, the patient role reads only its own record. Every read is audited.',
        },
        resource: [
          {
            type: 'Observation',
            profile: `${SD}Observation`,
            supportedProfile: [...Object.values(VITALS).map((v) => v.profile), `${SD}bp`],
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            searchParam: [
              { name: 'patient', type: 'reference', documentation: 'Required: Patient/{id} or {id}' },
              { name: 'code', type: 'token', documentation: 'LOINC 9279-1, 8867-4, 2708-6, 59408-5, 8310-5, 85354-9; SNOMED 1104051000000101 (NEWS2 scores)' },
              { name: 'date', type: 'date', documentation: 'ge, gt, le, lt, eq; at most 24 h per search (default the last 24 h); most recent first' },
              ...paging,
            ],
          },
          { type: 'Patient', profile: `${SD}Patient`, interaction: [{ code: 'read' }] },
          {
            type: 'Device',
            profile: `${SD}Device`,
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            searchParam: [{ name: 'patient', type: 'reference', documentation: 'Required: the devices assigned to Patient/{id}' }, ...paging],
          },
        ],
      },
    ],
  };
}
