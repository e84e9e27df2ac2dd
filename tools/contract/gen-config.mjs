// gen-config.mjs writes portman-config.json from the OpenAPI document and
// operations.json, so the Portman configuration follows the document:
// every operation gets its happy request (operations.json) with
// Portman's contract tests, and the error paths the document lists get
// variations: unauthenticated (401), unknown id (404), a body of the
// wrong type (400), fuzzed bodies (422: required fields missing, values
// past minLength/maxLength/minimum/maximum) and an invalid cursor (422).
// Usage: node gen-config.mjs openapi.json > portman-config.json
import { readFileSync } from 'node:fs';

const doc = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const data = JSON.parse(readFileSync(new URL('./operations.json', import.meta.url), 'utf8'));
const methods = ['get', 'put', 'post', 'patch', 'delete'];

const ops = [];
for (const [path, item] of Object.entries(doc.paths)) {
  for (const m of methods) {
    if (item[m]) ops.push({ path, method: m.toUpperCase(), op: item[m], params: [...(item.parameters || []), ...(item[m].parameters || [])] });
  }
}
const resolve = (p) => (p.$ref ? p.$ref.split('/').slice(1).reduce((o, k) => o[k], doc) : p);

const missing = ops.filter((o) => !data.operations[o.op.operationId]).map((o) => o.op.operationId);
if (missing.length) {
  console.error(`operations.json has no request for: ${missing.join(', ')}`);
  process.exit(1);
}

// overwrites of operation o's happy request, with changes.
function overwrites(o, change = {}) {
  const d = { ...data.operations[o.op.operationId], ...change };
  delete d.variation;
  const w = {};
  if (d.path) w.overwriteRequestPathVariables = Object.entries(d.path).map(([key, value]) => ({ key, value, overwrite: true }));
  const query = d.query || {};
  const q = o.params.map(resolve).filter((p) => p.in === 'query' && !(p.name in query)).map((p) => ({ key: p.name, remove: true }));
  for (const [key, value] of Object.entries(query)) q.push({ key, value, overwrite: true });
  if (q.length) w.overwriteRequestQueryParams = q;
  if ('body' in d) w.overwriteRequestBody = [{ key: '.', value: d.body, overwrite: true }];
  if (d.form) {
    const form = o.op.requestBody?.content?.['application/x-www-form-urlencoded']?.schema;
    const props = Object.keys(resolve(form || {}).properties || {});
    w.overwriteRequestBody = [
      ...props.filter((k) => !(k in d.form)).map((key) => ({ key, remove: true })),
      ...Object.entries(d.form).map(([key, value]) => ({ key, value, overwrite: true })),
    ];
  }
  if (d.noAuth) w.overwriteRequestSecurity = { remove: true };
  else if (d.manageToken) w.overwriteRequestSecurity = { apiKey: { key: 'token', in: 'query', value: d.manageToken } };
  else if (d.token) w.overwriteRequestSecurity = { bearer: { token: d.token } };
  return w;
}

const documents = (o, code) => Object.keys(o.op.responses || {}).includes(code);
const jsonBody = (o) => !!o.op.requestBody?.content?.['application/json'];
const bearer = (o) => (o.op.security || []).some((s) => 'bearerAuth' in s);
const manageToken = (o) => (o.op.security || []).some((s) => 'manageToken' in s);
const ref = (o) => ({ openApiOperationId: o.op.operationId });
const contract = { contractTests: [{ statusCode: { enabled: true } }, { contentType: { enabled: true } }, { jsonBody: { enabled: true } }, { schemaValidation: { enabled: true } }, { headersPresent: { enabled: true } }] };

const variationTests = [];
for (const o of ops) {
  const d = { ...data.operations[o.op.operationId], ...(data.operations[o.op.operationId].variation || {}) };
  const variation = (name, code, change, extra = {}) => {
    if (!documents(o, code)) return;
    change = { ...(d.variation || {}), ...change };
    variationTests.push({ ...ref(o), openApiResponse: code, variations: [{ name, openApiResponse: code, overwrites: [overwrites(o, change)], tests: contract, ...extra }] });
  };
  if (bearer(o) || manageToken(o)) variation('unauthenticated', '401', { noAuth: true });
  if (manageToken(o) && !bearer(o)) variation('forged manage token', '403', { manageToken: '1.forged' });
  for (const e of d.errors || []) {
    const { name, status, ...change } = e;
    variation(name, status, change);
  }
  const idVar = d.path && Object.keys(d.path).find((k) => k === 'id' || k === 'seq');
  if (d.unknown) variation('unknown ' + Object.keys(d.unknown).join(','), '404', { path: { ...d.path, ...d.unknown } });
  else if (idVar && !d.manageToken) variation('unknown ' + idVar, '404', { path: { ...d.path, [idVar]: idVar === 'seq' ? data.unknownSeq : data.unknownId } });
  if (jsonBody(o)) {
    variation('body not an object', '400', { body: 'not an object' });
    variation('unknown field', '400', { body: { ...(d.body || {}), unexpected_field: true } });
    if (documents(o, '422') && d.body) {
      variationTests.push({
        ...ref(o), openApiResponse: '422',
        variations: [{
          name: 'fuzz', openApiResponse: '422', overwrites: [overwrites(o, d.variation || {})], tests: contract,
          fuzzing: [{ requestBody: [{ requiredFields: { enabled: true }, minimumNumberFields: { enabled: true }, maximumNumberFields: { enabled: true }, minLengthFields: { enabled: true }, maxLengthFields: { enabled: true } }] }],
        }],
      });
    }
  }
  if (o.params.map(resolve).some((p) => p.in === 'query' && p.name === 'cursor')) {
    variation('invalid cursor', '422', { query: { ...(d.query || {}), cursor: 'not-a-cursor' } });
    variation('limit out of range', '422', { query: { limit: '-5' } });
  }
}

const byId = Object.fromEntries(ops.map((o) => [o.op.operationId, o]));
const config = {
  version: 1.0,
  tests: { contractTests: contract.contractTests.map((t) => ({ openApiOperation: '*::/*', ...t })), variationTests },
  overwrites: ops.map((o) => ({ ...ref(o), ...overwrites(o) })),
  assignVariables: [{ openApiOperationId: 'startTOTPEnrolment', collectionVariables: [{ responseBodyProp: 'secret', name: 'totpSecret' }] }],
  operationPreRequestScripts: [{ openApiOperationId: 'confirmTOTPEnrolment', scripts: [readFileSync(new URL('./totp.js', import.meta.url), 'utf8')] }],
  globals: {
    orderOfOperations: Object.values(data.order).flat().map((id) => `${byId[id].method}::${byId[id].path}`),
  },
};
process.stdout.write(JSON.stringify(config, null, 2) + '\n');
