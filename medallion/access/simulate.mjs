// Evaluates a batch of IAM requests with @cloud-copilot/iam-simulate (AWS's evaluation logic).
//
// stdin: {"policies": {NAME: POLICY_DOCUMENT, ...},
//         "requests": [{"principal": ARN, "action": "s3:GetObject", "resource": ARN,
//                       "accountId": "123456789012", "context": {KEY: VALUE, ...},
//                       "identityPolicies": [NAME, ...], "resourcePolicy": NAME or null}, ...]}
// stdout: [{"decision": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied",
//           "allow": [STATEMENT, ...], "deny": [STATEMENT, ...], "ignoredContextKeys": [KEY, ...]}
//          or {"error": MESSAGE}, ...], one per request, in order, where a STATEMENT is
//          {"policy": NAME, "index": 0-BASED INDEX, "sid": SID or null, "actions": [PATTERN, ...],
//           "resources": [PATTERN, ...]}: an identity or resource policy statement that matched
//          the request, with the Action and Resource patterns of it that matched (NotAction and
//          NotResource statements list none).
// Exit status 2 and one line on stderr when the library cannot be loaded or the input is not JSON.
// medallion/access/evaluate.py runs it with node_modules of the repository root on NODE_PATH.

import { createRequire } from "node:module";
import path from "node:path";

async function load() {
  // NODE_PATH is not consulted by ES module imports: resolve through a CommonJS require rooted
  // at each NODE_PATH entry (and at this file), then import the ES module entry it points to.
  const roots = (process.env.NODE_PATH || "").split(path.delimiter).filter(Boolean);
  for (const root of [...roots.map((r) => path.join(r, "noop.js")), import.meta.filename]) {
    try {
      const resolved = createRequire(root).resolve("@cloud-copilot/iam-simulate");
      return await import(resolved);
    } catch (error) {
      if (error.code !== "MODULE_NOT_FOUND") throw error;
    }
  }
  return null;
}

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on("data", (chunk) => chunks.push(chunk));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

function list(value) {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function statements(analyses, policy) {
  return (analyses || []).map((analysis) => {
    const explain = analysis.explain || {};
    return {
      policy: policy ?? analysis.policyId,
      index: analysis.statement.index() - 1,
      sid: analysis.statement.sid() ?? null,
      actions: list(explain.actions).filter((a) => a.matches).map((a) => a.action),
      resources: list(explain.resources).filter((r) => r.matches).map((r) => r.resource),
    };
  });
}

function summarize(response, resourcePolicy) {
  if (response.resultType === "error") {
    return { error: response.errors.message, details: response.errors };
  }
  const results = response.resultType === "single" ? [response.result] : response.results;
  const out = { decision: response.overallResult, allow: [], deny: [], ignoredContextKeys: [] };
  for (const result of results) {
    const analysis = result.analysis || {};
    const identity = analysis.identityAnalysis || {};
    const resource = analysis.resourceAnalysis || {};
    out.allow.push(...statements(identity.allowStatements));
    out.allow.push(...statements(resource.allowStatements, resourcePolicy));
    out.deny.push(...statements(identity.denyStatements));
    out.deny.push(...statements(resource.denyStatements, resourcePolicy));
    out.ignoredContextKeys.push(...(result.ignoredContextKeys || []));
  }
  return out;
}

async function simulate(lib, policies, request) {
  const named = (name) => ({ name, policy: policies[name] });
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.accountId },
      contextVariables: request.context || {},
    },
    identityPolicies: (request.identityPolicies || []).map(named),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  if (request.resourcePolicy) simulation.resourcePolicy = policies[request.resourcePolicy];
  const response = await lib.runSimulation(simulation, { simulationMode: "Strict" });
  return summarize(response, request.resourcePolicy);
}

async function main() {
  const lib = await load();
  if (lib === null) {
    process.stderr.write(
      "simulate.mjs: cannot find @cloud-copilot/iam-simulate (run npm ci at the repository root)\n",
    );
    return 2;
  }
  let batch;
  try {
    batch = JSON.parse(await readStdin());
  } catch (error) {
    process.stderr.write(`simulate.mjs: the input is not JSON: ${error.message}\n`);
    return 2;
  }
  if (!Array.isArray(batch?.requests) || typeof batch?.policies !== "object") {
    process.stderr.write('simulate.mjs: the input needs "policies" and "requests"\n');
    return 2;
  }
  const results = [];
  for (const request of batch.requests) {
    results.push(await simulate(lib, batch.policies, request));
  }
  process.stdout.write(JSON.stringify(results));
  return 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`simulate.mjs: ${error?.message ?? error}\n`);
  process.exitCode = 3;
}
