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

const machine = new StateMachine(definition, {
  awsConfig: {
    region: req.region,
    credentials: { accessKeys: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY } },
  },
});
const execution = machine.run(req.input, {
  overrides: { retryIntervalOverrides, waitTimeOverrides },
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
