// The spec check (ADR 0024): every HTTP exchange the end-to-end tests recorded (MARQUEE_E2E_RECORD_DIR, one
// JSON line per response, written by tests/e2e/marquee_process.cpp) is checked against api/openapi.yaml:
//   - the request names a declared path and method (or the response is the 404 of an unknown path, or the 405
//     of an undeclared method on a declared path whose Allow lists the declared methods);
//   - the status is declared for that operation (exactly, as `NXX`, or `default`);
//   - every header the response declares `required` is there, and every declared header that is there fits
//     its schema; so are the headers of `x-every-response-headers` (X-Request-Id, traceparent) on every answer;
//   - the content type is one the response declares, and a JSON body (application/json,
//     application/problem+json) validates against the schema of that status and content type; a response
//     that declares no content has an empty body.
// Every mismatch is printed with the test, the file and the request; the exit status is 1 when there is one.
//
//   node validate.mjs --spec api/openapi.yaml --records DIR [--self-test]
// The npm packages come from tests/spec/package-lock.json, installed by tests/spec/run (NODE_PATH).
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(resolve(process.env.MARQUEE_SPEC_DEPS ?? process.cwd(), 'node_modules', 'x.js'));
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv = require('ajv').default;
const addFormats = require('ajv-formats').default;

function parseArgs(argv) {
  const out = { spec: null, records: null, selfTest: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--spec') out.spec = argv[++i];
    else if (argv[i] === '--records') out.records = argv[++i];
    else if (argv[i] === '--self-test') out.selfTest = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!out.spec) throw new Error('--spec is required');
  if (!out.records && !out.selfTest) throw new Error('--records (or --self-test) is required');
  return out;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;

/// A media type as (type, parameters): "text/plain; version=0.0.4" -> ["text/plain", {version: "0.0.4"}].
function parseMediaType(text) {
  const [base, ...params] = String(text).split(';');
  const out = {};
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq > 0) out[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return [base.trim().toLowerCase(), out];
}

/// The declared media type object that fits the response's Content-Type: the same type (or `type/*`, `*/*`),
/// and every parameter the declaration names (e.g. the metrics' `version=0.0.4`) with the same value.
function mediaFor(content, contentType) {
  const [type, params] = parseMediaType(contentType);
  const candidates = Object.entries(content).map(([key, media]) => [...parseMediaType(key), media]);
  for (const pattern of [type, type.replace(/\/.*/, '/*'), '*/*']) {
    for (const [declared, declaredParams, media] of candidates) {
      if (declared !== pattern) continue;
      if (Object.entries(declaredParams).every(([k, v]) => params[k] === v)) return media;
    }
  }
  return null;
}

/// The members of `value` that `schema` does not describe: an object's member is described when a `properties`
/// of the schema (or of its `allOf` parts) names it, or when one of them allows more (`additionalProperties`,
/// as `Problem` does for RFC 9457 extension members). OpenAPI 3.0 leaves objects open by default, so the schema
/// check alone lets a member the document never mentions through; this is the drift it would miss.
function undescribedMembers(schema, value, path) {
  if (!schema || value === null || typeof value !== 'object') return [];
  const parts = [];
  const flatten = (s) => {
    if (!s || typeof s !== 'object') return;
    parts.push(s);
    for (const sub of s.allOf ?? []) flatten(sub);
  };
  flatten(schema);
  if (parts.some((s) => s.oneOf || s.anyOf)) return []; // not used by the document; not judged here
  if (Array.isArray(value)) {
    const items = { allOf: parts.filter((s) => s.items).map((s) => s.items) };
    return items.allOf.length ? value.flatMap((v, i) => undescribedMembers(items, v, `${path}/${i}`)) : [];
  }
  const out = [];
  for (const [key, member] of Object.entries(value)) {
    // Every part that names the member describes it (allOf: all apply), e.g. `zones` of Schedule and of
    // ScheduleWithAvailability.
    const declared = parts.filter((s) => s.properties && Object.hasOwn(s.properties, key));
    if (declared.length) {
      out.push(...undescribedMembers({ allOf: declared.map((s) => s.properties[key]) }, member, `${path}/${key}`));
      continue;
    }
    const more = parts.find((s) => s.additionalProperties !== undefined && s.additionalProperties !== false);
    if (more) {
      if (typeof more.additionalProperties === 'object')
        out.push(...undescribedMembers(more.additionalProperties, member, `${path}/${key}`));
      continue;
    }
    out.push(`${path}/${key} is a member the schema does not describe`);
  }
  return out;
}

/// The checker of one dereferenced OpenAPI document.
export class SpecChecker {
  constructor(api) {
    this.api = api;
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    // OpenAPI 3.0's own formats: int32/int64 are integers in range, byte is base64, password is any string.
    this.ajv.addFormat('int32', { type: 'number', validate: (n) => Number.isInteger(n) && Math.abs(n) <= 2 ** 31 });
    this.ajv.addFormat('int64', { type: 'number', validate: (n) => Number.isInteger(n) });
    this.ajv.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
    this.ajv.addFormat('password', true);
    this.compiled = new WeakMap();
    // Literal paths before templated ones, then fewer parameters first: /queue/me wins over /queue/{id}.
    this.routes = Object.entries(api.paths ?? {})
      .map(([template, item]) => ({
        template,
        item,
        params: (template.match(/\{[^}]+\}/g) ?? []).length,
        regex: new RegExp(
          '^' +
            template
              .split(/(\{[^}]+\})/)
              .map((part) => (part.startsWith('{') ? '([^/]+)' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
              .join('') +
            '$',
        ),
      }))
      .sort((a, b) => a.params - b.params || b.template.length - a.template.length);
    this.problem = api.components?.schemas?.Problem;
    if (!this.problem) throw new Error('the document has no components.schemas.Problem');
  }

  validator(schema) {
    let v = this.compiled.get(schema);
    if (!v) {
      v = this.ajv.compile(schema);
      this.compiled.set(schema, v);
    }
    return v;
  }

  schemaErrors(schema, value) {
    const v = this.validator(schema);
    if (v(value)) return [];
    return v.errors.map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''}`);
  }

  route(path) {
    return this.routes.find((r) => r.regex.test(path));
  }

  /// The mismatches of one recorded exchange (an empty list when the spec describes it), and the operation.
  check(x) {
    const problems = [];
    const path = decodeURI(String(x.target).split('?')[0].split('#')[0]);
    const method = String(x.method).toLowerCase();
    const headers = Object.fromEntries(Object.entries(x.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const type = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const route = this.route(path);
    this.checkHeaders(this.api['x-every-response-headers'] ?? {}, headers, String(x.status), problems);

    const expectProblem = (status, why) => {
      if (x.status !== status) problems.push(`${why}, yet the answer is ${x.status} (only ${status} problem+json is described)`);
      else if (type !== 'application/problem+json') problems.push(`${why}: the ${status} is ${type || 'untyped'}, not application/problem+json`);
      else problems.push(...this.jsonErrors(this.problem, x).map((e) => `${status} body: ${e}`));
    };
    if (!route) {
      expectProblem(404, `no path of the document matches ${path}`);
      return { operation: null, problems };
    }
    const declared = METHODS.filter((m) => route.item[m]);
    const operation = route.item[method];
    if (!operation) {
      expectProblem(405, `${route.template} declares no ${method.toUpperCase()}`);
      if (x.status === 405) {
        const allow = (headers['allow'] ?? '').split(',').map((m) => m.trim().toLowerCase()).filter(Boolean);
        const missing = declared.filter((m) => !allow.includes(m));
        const extra = allow.filter((m) => !declared.includes(m) && m !== 'head' && m !== 'options');
        if (missing.length || extra.length)
          problems.push(`405 Allow "${headers['allow'] ?? ''}" differs from the declared methods ${declared.join(', ').toUpperCase()}`);
      }
      return { operation: `${method.toUpperCase()} ${route.template} (undeclared)`, problems };
    }
    const name = operation.operationId ?? `${method.toUpperCase()} ${route.template}`;
    const responses = operation.responses ?? {};
    const status = String(x.status);
    const response = responses[status] ?? responses[`${status[0]}XX`] ?? responses.default;
    if (!response) {
      problems.push(`status ${status} is not declared for ${name} (declared: ${Object.keys(responses).join(', ')})`);
      return { operation: name, problems };
    }

    this.checkHeaders(response.headers ?? {}, headers, status, problems);

    const content = response.content;
    if (!content || Object.keys(content).length === 0) {
      const length = x.body !== undefined ? x.body.length : (x.bodyLength ?? 0);
      if (length > 0) problems.push(`${status} declares no content, yet a ${type || 'untyped'} body of ${length} bytes came`);
      return { operation: name, problems };
    }
    const media = mediaFor(content, headers['content-type'] ?? '');
    if (!media) {
      problems.push(`${status}: content type "${headers['content-type'] ?? ''}" is not declared (declared: ${Object.keys(content).join(', ')})`);
      return { operation: name, problems };
    }
    if (JSON_TYPE.test(type) && media.schema) problems.push(...this.jsonErrors(media.schema, x).map((e) => `${status} ${type} body: ${e}`));
    return { operation: name, problems };
  }

  /// Every declared header that is `required` is there; every declared header that is there fits its schema.
  checkHeaders(declared, headers, status, problems) {
    for (const [headerName, header] of Object.entries(declared)) {
      const value = headers[headerName.toLowerCase()];
      if (value === undefined) {
        if (header.required) problems.push(`${status}: the required header ${headerName} is missing`);
        continue;
      }
      if (!header.schema) continue;
      let typed = value;
      if (header.schema.type === 'integer' || header.schema.type === 'number') {
        typed = /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
      }
      for (const e of this.schemaErrors(header.schema, typed)) problems.push(`${status}: header ${headerName}: "${value}" ${e}`);
    }
  }

  jsonErrors(schema, x) {
    if (x.body === undefined) return ['a JSON body was not recorded'];
    let doc;
    try {
      doc = JSON.parse(x.body);
    } catch (e) {
      return [`not JSON (${e.message}): ${x.body.slice(0, 200)}`];
    }
    const errors = this.schemaErrors(schema, doc);
    return errors.length ? errors : undescribedMembers(schema, doc, '');
  }

  operations() {
    const out = [];
    for (const { template, item } of this.routes)
      for (const m of METHODS) if (item[m]) out.push(item[m].operationId ?? `${m.toUpperCase()} ${template}`);
    return out;
  }
}

export async function loadChecker(specPath) {
  // validate(): the document is valid OpenAPI, and it comes back with every $ref resolved.
  const api = await SwaggerParser.validate(specPath);
  return new SpecChecker(api);
}

function readRecords(dir) {
  const out = [];
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
  for (const file of files) {
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      try {
        out.push({ file, line: i + 1, ...JSON.parse(line) });
      } catch (e) {
        out.push({ file, line: i + 1, broken: e.message });
      }
    });
  }
  return { files, records: out };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const checker = await loadChecker(args.spec);
  if (args.selfTest) {
    const { selfTest } = await import('./self_test.mjs');
    process.exit(selfTest(checker) ? 0 : 1);
  }
  const { files, records } = readRecords(args.records);
  if (records.length === 0) {
    console.error(`spec check: nothing was recorded in ${args.records} (did the e2e tests run with MARQUEE_E2E_RECORD_DIR?)`);
    process.exit(1);
  }
  const seen = new Map();
  let failures = 0;
  for (const x of records) {
    if (x.broken) {
      console.error(`MISMATCH ${x.file}:${x.line}: unreadable record (${x.broken})`);
      failures++;
      continue;
    }
    const { operation, problems } = checker.check(x);
    if (operation) seen.set(operation, (seen.get(operation) ?? 0) + 1);
    for (const p of problems) {
      failures++;
      console.error(`MISMATCH ${x.test} (${x.file}:${x.line}): ${x.method} ${x.target} -> ${x.status}: ${p}`);
    }
  }
  const all = checker.operations();
  const unseen = all.filter((o) => !seen.has(o));
  console.log(
    `spec check: ${records.length} responses from ${files.length} test processes, ` +
      `${all.length - unseen.length} of ${all.length} operations seen, ${failures} mismatches`,
  );
  if (unseen.length) console.log(`  operations no e2e test called: ${unseen.join(', ')}`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`spec check: ${e.stack ?? e}`);
  process.exit(2);
});
