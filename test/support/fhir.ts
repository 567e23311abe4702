/**
 * A structural check of the FHIR R4 resources we export: the required elements (cardinality
 * 1..) and value sets of Bundle, Patient, Practitioner, Appointment, Encounter,
 * Communication and Composition (with XHTML narratives), date-time formats, and that every reference resolves inside the bundle.
 * Returns the list of problems (empty when valid).
 */
const R4_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const R4_INSTANT = R4_DATETIME;
const ID = /^[A-Za-z0-9\-.]{1,64}$/;

const VALUE_SETS: Record<string, Record<string, string[]>> = {
  Bundle: {
    type: [
      'document',
      'message',
      'transaction',
      'transaction-response',
      'batch',
      'batch-response',
      'history',
      'searchset',
      'collection',
    ],
  },
  Appointment: {
    status: [
      'proposed',
      'pending',
      'booked',
      'arrived',
      'fulfilled',
      'cancelled',
      'noshow',
      'entered-in-error',
      'checked-in',
      'waitlist',
    ],
  },
  Encounter: {
    status: [
      'planned',
      'arrived',
      'triaged',
      'in-progress',
      'onleave',
      'finished',
      'cancelled',
      'entered-in-error',
      'unknown',
    ],
  },
  Composition: {
    status: ['preliminary', 'final', 'amended', 'entered-in-error'],
  },
  Communication: {
    status: [
      'preparation',
      'in-progress',
      'not-done',
      'on-hold',
      'stopped',
      'completed',
      'entered-in-error',
      'unknown',
    ],
  },
};

type Json = Record<string, any>;

export function validateR4Bundle(bundle: Json): string[] {
  const problems: string[] = [];
  const need = (cond: unknown, msg: string) => {
    if (!cond) problems.push(msg);
  };
  need(bundle.resourceType === 'Bundle', 'resourceType must be Bundle');
  need(
    VALUE_SETS.Bundle!.type!.includes(bundle.type),
    `Bundle.type ${bundle.type} is not in the value set`,
  );
  need(
    !bundle.timestamp || R4_INSTANT.test(bundle.timestamp),
    'Bundle.timestamp must be an instant',
  );
  need(Array.isArray(bundle.entry) && bundle.entry.length > 0, 'Bundle.entry must not be empty');
  const fullUrls = new Set<string>();
  for (const [i, e] of (bundle.entry ?? []).entries()) {
    need(typeof e.fullUrl === 'string', `entry[${i}].fullUrl is required in a collection`);
    need(!fullUrls.has(e.fullUrl), `entry[${i}].fullUrl ${e.fullUrl} is duplicated`);
    fullUrls.add(e.fullUrl);
    need(
      e.resource && typeof e.resource.resourceType === 'string',
      `entry[${i}].resource needs a resourceType`,
    );
    need(ID.test(e.resource?.id ?? ''), `entry[${i}].resource.id is not a FHIR id`);
  }

  const references: { path: string; reference: string }[] = [];
  const collect = (value: unknown, path: string) => {
    if (Array.isArray(value)) value.forEach((v, i) => collect(v, `${path}[${i}]`));
    else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'reference' && typeof v === 'string') references.push({ path, reference: v });
        else collect(v, `${path}.${k}`);
      }
    }
  };

  for (const [i, { resource: r }] of (bundle.entry ?? []).entries()) {
    const at = `${r?.resourceType}[${i}]`;
    const vs = VALUE_SETS[r?.resourceType];
    if (vs) {
      for (const [field, values] of Object.entries(vs)) {
        need(
          values.includes(r[field]),
          `${at}.${field} "${r[field]}" is missing or not in its value set`,
        );
      }
    }
    switch (r?.resourceType) {
      case 'Appointment':
        need(
          Array.isArray(r.participant) && r.participant.length > 0,
          `${at}.participant is required (1..*)`,
        );
        for (const [j, p] of (r.participant ?? []).entries()) {
          need(
            ['accepted', 'declined', 'tentative', 'needs-action'].includes(p.status),
            `${at}.participant[${j}].status is required`,
          );
          need(p.actor || p.type, `${at}.participant[${j}] needs an actor or a type`);
        }
        for (const f of ['start', 'end'])
          need(!r[f] || R4_INSTANT.test(r[f]), `${at}.${f} must be an instant`);
        break;
      case 'Encounter':
        need(
          r.class && typeof r.class.code === 'string' && typeof r.class.system === 'string',
          `${at}.class (Coding) is required`,
        );
        for (const f of ['start', 'end']) {
          need(
            !r.period?.[f] || R4_DATETIME.test(r.period[f]),
            `${at}.period.${f} must be a dateTime`,
          );
        }
        for (const [j, p] of (r.participant ?? []).entries()) {
          need(
            p.individual?.reference,
            `${at}.participant[${j}].individual must reference someone`,
          );
        }
        break;
      case 'Communication':
        need(!r.sent || R4_DATETIME.test(r.sent), `${at}.sent must be a dateTime`);
        for (const [j, p] of (r.payload ?? []).entries()) {
          need(
            typeof p.contentString === 'string' || p.contentAttachment || p.contentReference,
            `${at}.payload[${j}].content[x] is required`,
          );
        }
        break;
      case 'Composition':
        need(
          Array.isArray(r.type?.coding) && r.type.coding.length > 0,
          `${at}.type (CodeableConcept) is required`,
        );
        need(
          typeof r.date === 'string' && R4_DATETIME.test(r.date),
          `${at}.date must be a dateTime`,
        );
        need(
          Array.isArray(r.author) &&
            r.author.length > 0 &&
            r.author.every((a: Json) => a.reference),
          `${at}.author is required (1..*) and must reference someone`,
        );
        need(typeof r.title === 'string' && r.title.length > 0, `${at}.title is required`);
        for (const [j, sec] of (r.section ?? []).entries()) {
          need(
            !sec.text ||
              (['generated', 'extensions', 'additional', 'empty'].includes(sec.text.status) &&
                /^<div xmlns="http:\/\/www\.w3\.org\/1999\/xhtml">[\s\S]*<\/div>$/.test(
                  sec.text.div,
                ) &&
                !/<(script|iframe|object)/i.test(sec.text.div)),
            `${at}.section[${j}].text must be an XHTML narrative with a status`,
          );
        }
        break;
      case 'Patient':
      case 'Practitioner':
        break;
      default:
        problems.push(`${at}: unexpected resource type`);
    }
    collect(r, at);
  }
  for (const { path, reference } of references) {
    need(
      fullUrls.has(reference),
      `${path}.reference ${reference} does not resolve inside the bundle`,
    );
  }
  return problems;
}
