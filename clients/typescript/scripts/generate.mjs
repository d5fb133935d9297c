#!/usr/bin/env node
// Generates src/schema.d.ts from the OpenAPI document a running patchbay serves.
//
//   node scripts/generate.mjs           write src/schema.d.ts
//   node scripts/generate.mjs --check   regenerate into a temp file and fail if it differs
//
// The server is PATCHBAY_URL (default http://127.0.0.1:8080); the document is /openapi.json.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "src", "schema.d.ts");
const check = process.argv.includes("--check");
const base = (process.env.PATCHBAY_URL || "http://127.0.0.1:8080").replace(/\/+$/, "");
const url = `${base}/openapi.json`;

class Failure extends Error {}

async function fetchDocument() {
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new Failure(`could not reach ${url} (is patchbay running there? set PATCHBAY_URL): ${err.cause?.message ?? err.message}`);
  }
  if (!res.ok) throw new Failure(`GET ${url} answered ${res.status} ${res.statusText}`);
  try {
    return await res.json();
  } catch (err) {
    throw new Failure(`${url} did not answer JSON: ${err.message}`);
  }
}

// openapi-typescript emits one `operations` entry per operationId, so an id used twice collides
// in the generated types (tsc then reports duplicate identifiers in src/schema.d.ts).
function warnDuplicateOperationIds(document) {
  const byId = new Map();
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, op] of Object.entries(item ?? {})) {
      if (op && typeof op === "object" && typeof op.operationId === "string") {
        byId.set(op.operationId, [...(byId.get(op.operationId) ?? []), `${method.toUpperCase()} ${path}`]);
      }
    }
  }
  for (const [id, ops] of byId) {
    if (ops.length > 1) console.warn(`warning: operationId "${id}" is used by ${ops.length} operations: ${ops.join(", ")}`);
  }
}

// Runs the openapi-typescript CLI itself, so the output is exactly what
// `openapi-typescript URL --empty-objects-unknown -o src/schema.d.ts` writes. The flag types a
// free-form `{"type": "object"}` (config, secrets, owner scope, event data) as
// Record<string, unknown>, as JSON Schema means it, instead of Record<string, never>.
function generate(document, dir) {
  const cli = join(dirname(createRequire(import.meta.url).resolve("openapi-typescript/package.json")), "bin", "cli.js");
  const input = join(dir, "openapi.json");
  const output = join(dir, "schema.d.ts");
  writeFileSync(input, JSON.stringify(document));
  const run = spawnSync(process.execPath, [cli, input, "--empty-objects-unknown", "--output", output], { cwd: dir, encoding: "utf8" });
  if (run.status !== 0) {
    process.stderr.write(run.stdout + run.stderr);
    throw new Failure(`openapi-typescript could not generate types from ${url}`);
  }
  return output;
}

function compare(fresh) {
  if (!existsSync(target)) throw new Failure("src/schema.d.ts is missing; run `npm run generate` and commit it");
  if (readFileSync(target, "utf8") === readFileSync(fresh, "utf8")) {
    console.log(`src/schema.d.ts is up to date with ${url}`);
    return;
  }
  const diff = spawnSync("diff", ["-u", "--label", "src/schema.d.ts (committed)", "--label", `${url} (generated)`, target, fresh], {
    encoding: "utf8",
  });
  const lines = (diff.stdout || "").split("\n");
  if (lines.length > 1) {
    console.error(lines.slice(0, 120).join("\n"));
    if (lines.length > 120) console.error(`... ${lines.length - 120} more diff lines`);
  }
  throw new Failure(
    `src/schema.d.ts is out of date: it differs from what ${url} generates.\n` +
      `Run \`PATCHBAY_URL=${base} npm run generate\` in clients/typescript and commit src/schema.d.ts.`,
  );
}

const dir = mkdtempSync(join(tmpdir(), "patchbay-schema-"));
try {
  const document = await fetchDocument();
  warnDuplicateOperationIds(document);
  const fresh = generate(document, dir);
  if (check) {
    compare(fresh);
  } else {
    copyFileSync(fresh, target);
    console.log(`wrote src/schema.d.ts from ${url}`);
  }
} catch (err) {
  if (!(err instanceof Failure)) throw err;
  console.error(`error: ${err.message}`);
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
