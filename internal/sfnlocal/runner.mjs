// Runs one execution of an Amazon States Language definition in
// aws-local-stepfunctions and reports it to the Go side as JSON lines on
// stdout: every event log entry, then {"type":"Result", ...}.
// Request on stdin: {definition, input, context, region, module}.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const req = JSON.parse(readFileSync(0, 'utf8'));
const { StateMachine } = await import(pathToFileURL(req.module).href);
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const definition = JSON.parse(req.definition);
// Drills and tests do not wait out retry back-off: every retrier waits 0 ms.
const retryIntervalOverrides = {};
const waitTimeOverrides = {};
for (const [name, state] of Object.entries(definition.States)) {
  if (state.Retry) retryIntervalOverrides[name] = 0;
  if (state.Type === 'Wait') waitTimeOverrides[name] = 0;
}

// Lambda tasks are invoked here rather than by the interpreter's bundled
// SDK client, for two reasons of fidelity. Step Functions names a failure of
// the Lambda service itself (throttling, 5xx) "Lambda.<exception>", which is
// what the definition's Retry fields match; the SDK client's error carries
// the bare exception name. And Step Functions makes one invocation per
// attempt: the SDK client would retry throttles itself, hiding them from
// the definition's Retry. Function errors keep their errorType as the name,
// as in AWS.
const lambdaEndpoint = process.env.AWS_ENDPOINT_URL_LAMBDA;
const named = (name, message, cause) => Object.assign(new Error(message, { cause }), { name });
async function invokeLambda(resource, input) {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  // localaws routes by the credential scope; it does not check signatures.
  const auth = `AWS4-HMAC-SHA256 Credential=${process.env.AWS_ACCESS_KEY_ID}/${day}/${req.region}/lambda/aws4_request, SignedHeaders=host, Signature=0`;
  const res = await fetch(`${lambdaEndpoint}/2015-03-31/functions/${encodeURIComponent(resource)}/invocations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: auth },
    body: JSON.stringify(input),
  });
  const text = await res.text();
  if (!res.ok) {
    const type = (res.headers.get('x-amzn-errortype') ?? '').split(':')[0] || 'ServiceException';
    throw named(`Lambda.${type}`, `Lambda.${type}: ${text}`);
  }
  const payload = text ? JSON.parse(text) : null;
  if (res.headers.get('x-amz-function-error')) {
    throw named(payload?.errorType ?? 'Error', `${payload?.errorType}: ${payload?.errorMessage}`, payload);
  }
  return payload;
}
// Task states at any depth (Map item processors, Parallel branches), by name.
const taskResourceLocalHandlers = {};
const collect = (states) => {
  for (const [name, state] of Object.entries(states ?? {})) {
    if (state.Type === 'Task') taskResourceLocalHandlers[name] = (input) => invokeLambda(state.Resource, input);
    collect((state.ItemProcessor ?? state.Iterator)?.States);
    for (const b of state.Branches ?? []) collect(b.States);
  }
};
if (lambdaEndpoint) collect(definition.States);

const machine = new StateMachine(definition, {
  awsConfig: {
    region: req.region,
    credentials: { accessKeys: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY } },
  },
});
const execution = machine.run(req.input, {
  overrides: { retryIntervalOverrides, waitTimeOverrides, taskResourceLocalHandlers },
  context: req.context,
});
const logs = (async () => {
  for await (const ev of execution.eventLogs) emit(ev);
})();
try {
  const output = await execution.result;
  await logs;
  emit({ type: 'Result', status: 'SUCCEEDED', output });
} catch (err) {
  await logs.catch(() => {});
  emit({ type: 'Result', status: 'FAILED', error: err?.cause?.name ?? err?.name ?? 'Error', cause: String(err?.cause?.message ?? err?.message ?? err) });
}
