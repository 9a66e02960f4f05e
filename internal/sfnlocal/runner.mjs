// Runs one execution of an Amazon States Language definition in
// aws-local-stepfunctions and reports it to the Go side as JSON lines on
// stdout: every event log entry, then {"type":"Result", ...}. Events of a
// Distributed Map's child executions carry "execution" (the child's ARN);
// each child ends with a {"type":"ChildExecution"} line and each Map Run with
// a {"type":"MapRun"} line. A definition this runner cannot run faithfully
// yields a single {"type":"DefinitionError"} line.
// Request on stdin: {definition, input, context, region, module}.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const req = JSON.parse(readFileSync(0, 'utf8'));
const { StateMachine } = await import(pathToFileURL(req.module).href);
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const definition = JSON.parse(req.definition);
// Drills and tests do not wait out retry back-off or Wait states: every
// retrier and Wait, at any depth (Map item processors, Parallel branches),
// waits 0 ms. The interpreter looks overrides up by state name, and a Map's
// iterations run with the same options.
const retryIntervalOverrides = {};
const waitTimeOverrides = {};
const zeroWaits = (states) => {
  for (const [name, state] of Object.entries(states ?? {})) {
    if (state.Retry) retryIntervalOverrides[name] = 0;
    if (state.Type === 'Wait') waitTimeOverrides[name] = 0;
    zeroWaits((state.ItemProcessor ?? state.Iterator)?.States);
    for (const b of state.Branches ?? []) zeroWaits(b.States);
  }
};
zeroWaits(definition.States);

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

const stateMachineOptions = {
  awsConfig: {
    region: req.region,
    credentials: { accessKeys: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY } },
  },
};
const overrides = { retryIntervalOverrides, waitTimeOverrides, taskResourceLocalHandlers };

// ---- Distributed Map --------------------------------------------------
// aws-local-stepfunctions 3.0.0 runs every Map inline: it ignores
// ProcessorConfig.Mode, ItemBatcher, ToleratedFailurePercentage/Count and
// Label, and the first failed item fails the Map with that item's error. In
// AWS a DISTRIBUTED Map starts a Map Run whose items are child executions;
// failed children only fail the Map once they exceed the tolerated-failure
// threshold, and then with States.ExceedToleratedFailureThreshold.
//
// So, in this process's copy of the definition only, each DISTRIBUTED Map is
// lowered to a Task state that keeps the Map's own InputPath, ResultSelector,
// ResultPath, OutputPath, Retry, Catch and Next/End (the interpreter applies
// them exactly as it does for a Map), and whose local handler below runs the
// Map Run: ItemsPath, ItemSelector, ItemBatcher, MaxConcurrency and the
// tolerated-failure threshold, each item (or batch) as a child run of the
// ItemProcessor in the interpreter. JSONPath and intrinsic functions in those
// fields are evaluated by the interpreter itself (a one-state Pass machine).
// Events keep the state's type as "Map". Inline Maps are not touched.
const lowered = new Set();
const DISTRIBUTED_MAP_RESOURCE = 'arn:aws:states:::keywarden-local:distributedMap';
// A Map Run has no timeout of its own; the Task's default (60 s) must not
// cut one short. Below 2^31 ms, which is setTimeout's ceiling.
const MAP_RUN_TIMEOUT_SECONDS = 2_000_000;

class DefinitionError extends Error {}
function unsupported(name, state) {
  const gone = (f) => `state ${JSON.stringify(name)}: ${f} is not supported by the offline interpreter (internal/sfnlocal); run this definition in AWS, or give the Map its items with ItemsPath`;
  if (state.ItemReader) throw new DefinitionError(gone('ItemReader (reading items from S3)'));
  if (state.ResultWriter) throw new DefinitionError(gone('ResultWriter (writing results to S3)'));
  if (state.Items !== undefined) throw new DefinitionError(gone('Items (a JSONata-only field)'));
  if (state.QueryLanguage === 'JSONata') throw new DefinitionError(gone('JSONata'));
}

function lower(states) {
  for (const [name, state] of Object.entries(states ?? {})) {
    const processor = state.ItemProcessor ?? state.Iterator;
    for (const b of state.Branches ?? []) lower(b.States);
    if (!processor) continue;
    lower(processor.States);
    if (state.Type !== 'Map' || processor.ProcessorConfig?.Mode !== 'DISTRIBUTED') continue;
    unsupported(name, state);
    const task = { Type: 'Task', Resource: DISTRIBUTED_MAP_RESOURCE, TimeoutSeconds: MAP_RUN_TIMEOUT_SECONDS };
    for (const f of ['Comment', 'InputPath', 'ResultSelector', 'ResultPath', 'OutputPath', 'Retry', 'Catch', 'Next', 'End']) {
      if (state[f] !== undefined) task[f] = state[f];
    }
    // The handler needs the context object too ($$ in ItemSelector).
    task.Parameters = { 'input.$': '$', 'context.$': '$$' };
    states[name] = task;
    lowered.add(name);
    taskResourceLocalHandlers[name] = ({ input, context }) => runMap(name, state, processor, input, context);
  }
}

// Evaluates a payload template (fields ending in .$, intrinsics) against
// input and context the way the interpreter does, by running it as the
// Parameters of a Pass state. Known gap: the interpreter sets
// $$.Execution.Input and StartTime of any run it starts, so inside these
// fields they read the Map's input and the evaluation time.
async function evaluate(template, input, context) {
  const m = new StateMachine({ StartAt: 'Evaluate', States: { Evaluate: { Type: 'Pass', Parameters: template, End: true } } }, { validationOptions: { noValidate: true } });
  try {
    return await m.run(input, { context }).result;
  } catch (err) {
    throw err?.cause ?? err;
  }
}

// Child names and ARNs as AWS forms them for a Map Run (label, else a UUID).
function arnParts(executionArn) {
  const p = (executionArn ?? '').split(':');
  return { region: p[3] || req.region, account: p[4] || '000000000000', machine: (p[6] ?? 'StateMachine').split('/')[0] };
}

const shown = (ev) => (ev.state && lowered.has(ev.state.name) && ev.state.type === 'Task' ? { ...ev, state: { ...ev.state, type: 'Map' } } : ev);

async function runMap(name, state, processor, input, context) {
  const owner = context?.Execution?.Id;
  const { region, account, machine } = arnParts(owner);
  const label = state.Label ?? randomUUID();
  const mapRunArn = `arn:aws:states:${region}:${account}:mapRun:${machine}/${label}:${randomUUID()}`;
  const startDate = Date.now();

  const paths = {};
  for (const f of ['ItemsPath', 'MaxConcurrencyPath', 'ToleratedFailurePercentagePath', 'ToleratedFailureCountPath']) {
    if (state[f] !== undefined) paths[`${f}.$`] = state[f];
  }
  for (const f of ['MaxItemsPerBatchPath', 'MaxInputBytesPerBatchPath']) {
    if (state.ItemBatcher?.[f] !== undefined) paths[`${f}.$`] = state.ItemBatcher[f];
  }
  const v = Object.keys(paths).length ? await evaluate(paths, input, context) : {};
  const items = state.ItemsPath !== undefined ? v.ItemsPath : input;
  if (!Array.isArray(items)) {
    throw named('States.Runtime', `Map state ${JSON.stringify(name)}: the items (ItemsPath ${state.ItemsPath ?? '$'}) are not an array`);
  }
  const maxConcurrency = state.MaxConcurrency ?? v.MaxConcurrencyPath ?? 0; // 0: no limit (AWS: up to 10,000)
  const pct = state.ToleratedFailurePercentage ?? v.ToleratedFailurePercentagePath;
  const count = state.ToleratedFailureCount ?? v.ToleratedFailureCountPath;

  // ItemSelector (or the older Parameters) shapes each item, with
  // $$.Map.Item.Index and .Value, before batching.
  const selector = state.ItemSelector ?? state.Parameters;
  const selected = [];
  for (const [i, item] of items.entries()) {
    selected.push(selector === undefined ? item : await evaluate(selector, input, { ...context, Map: { Item: { Index: i, Value: item } } }));
  }
  const batches = await batch(state.ItemBatcher, v, selected, input, context);

  // Let the interpreter's own queued events (MapStateEntered) go out first.
  await new Promise((resolve) => setImmediate(resolve));
  emit({ type: 'MapRunStarted', timestamp: Date.now(), execution: owner, mapRunArn, stateName: name });
  const record = {
    type: 'MapRun', mapRunArn, executionArn: owner, stateName: name, startDate, maxConcurrency,
    toleratedFailurePercentage: pct ?? 0, toleratedFailureCount: count ?? 0, itemTotal: items.length,
  };
  const exceeded = (failedItems) =>
    (pct === undefined && count === undefined && failedItems > 0) ||
    (pct !== undefined && (failedItems * 100) / items.length > pct) ||
    (count !== undefined && failedItems > count);

  const child = new StateMachine(processor, { ...stateMachineOptions, validationOptions: { noValidate: true } });
  const outputs = new Array(batches.length);
  const running = new Set();
  let next = 0;
  let failedItems = 0;
  let failure = null;
  const runOne = async (b) => {
    const id = randomUUID();
    const arn = `arn:aws:states:${region}:${account}:execution:${machine}/${label}:${id}`;
    const run = child.run(batches[b].input, { overrides, context: { Execution: { Id: arn, Name: id } } });
    const c = { arn, name: id, index: b, items: batches[b].size, input: batches[b].input, startDate: Date.now() };
    running.add(run);
    const logs = (async () => {
      for await (const ev of run.eventLogs) emit({ ...shown(ev), execution: arn });
    })();
    try {
      outputs[b] = { ok: true, output: await run.result };
      Object.assign(c, { status: 'SUCCEEDED', output: outputs[b].output });
    } catch (err) {
      const aborted = err?.name === 'ExecutionAbortedError';
      const cause = err?.cause ?? err;
      Object.assign(c, { status: aborted ? 'ABORTED' : 'FAILED', error: cause?.name ?? 'Error', cause: String(cause?.message ?? cause) });
      if (!aborted) {
        failedItems += batches[b].size;
        if (!failure && exceeded(failedItems)) failure = c;
      }
    } finally {
      running.delete(run);
      await logs.catch(() => {});
      c.stopDate = Date.now();
      emit({ type: 'ChildExecution', timestamp: c.stopDate, execution: arn, mapRunArn, ...c });
      // Past the threshold the Map Run fails: stop what still runs.
      if (failure) for (const r of running) r.abort();
    }
  };
  const worker = async () => {
    while (!failure && next < batches.length) await runOne(next++);
  };
  const width = maxConcurrency > 0 ? Math.min(maxConcurrency, batches.length) : batches.length;
  await Promise.all(Array.from({ length: width }, worker));

  record.stopDate = Date.now();
  record.itemFailed = failedItems;
  if (failure) {
    const cause = `The Map Run ${mapRunArn} exceeded its tolerated failure threshold: ${failedItems} of ${items.length} items failed` +
      ` (tolerated: ${pct ?? (count === undefined ? 0 : '-')}%, ${count ?? '-'} items). First failure past it: ${failure.error}: ${failure.cause}`;
    Object.assign(record, { status: 'FAILED', error: 'States.ExceedToleratedFailureThreshold', cause });
    emit(record);
    emit({ type: 'MapRunFailed', timestamp: record.stopDate, execution: owner, mapRunArn, stateName: name, Error: record.error, Cause: cause });
    throw named('States.ExceedToleratedFailureThreshold', cause);
  }
  record.status = 'SUCCEEDED';
  emit(record);
  emit({ type: 'MapRunSucceeded', timestamp: record.stopDate, execution: owner, mapRunArn, stateName: name });
  // Without a ResultWriter the Map's output is the array of the child
  // executions' outputs, in item order. A tolerated failure adds no entry
  // (see docs/drills.md on what this assumes of AWS).
  return outputs.filter((o) => o?.ok).map((o) => o.output);
}

// ItemBatcher: consecutive items, at most MaxItemsPerBatch of them and at
// most MaxInputBytesPerBatch bytes of child input, each child receiving
// {"BatchInput": ..., "Items": [...]}. Without it, one item per child.
async function batch(batcher, v, selected, input, context) {
  if (!batcher) return selected.map((item) => ({ input: item, size: 1 }));
  const maxItems = batcher.MaxItemsPerBatch ?? v.MaxItemsPerBatchPath ?? Infinity;
  const maxBytes = batcher.MaxInputBytesPerBatch ?? v.MaxInputBytesPerBatchPath ?? Infinity;
  const batchInput = batcher.BatchInput === undefined ? undefined : await evaluate(batcher.BatchInput, input, context);
  const wrap = (items) => (batchInput === undefined ? { Items: items } : { BatchInput: batchInput, Items: items });
  const out = [];
  let cur = [];
  for (const item of selected) {
    if (cur.length > 0 && (cur.length >= maxItems || Buffer.byteLength(JSON.stringify(wrap([...cur, item]))) > maxBytes)) {
      out.push(cur);
      cur = [];
    }
    cur.push(item);
  }
  if (cur.length > 0) out.push(cur);
  return out.map((items) => ({ input: wrap(items), size: items.length }));
}

try {
  lower(definition.States);
} catch (err) {
  if (!(err instanceof DefinitionError)) throw err;
  emit({ type: 'DefinitionError', message: err.message });
  process.exit(0);
}
// ---- end of Distributed Map -------------------------------------------

const machine = new StateMachine(definition, stateMachineOptions);
const execution = machine.run(req.input, { overrides, context: req.context });
const logs = (async () => {
  for await (const ev of execution.eventLogs) emit(shown(ev));
})();
try {
  const output = await execution.result;
  await logs;
  emit({ type: 'Result', status: 'SUCCEEDED', output });
} catch (err) {
  await logs.catch(() => {});
  emit({ type: 'Result', status: 'FAILED', error: err?.cause?.name ?? err?.name ?? 'Error', cause: String(err?.cause?.message ?? err?.message ?? err) });
}
