// Shared setup for the tests, which run against a live patchbay (PATCHBAY_URL, PATCHBAY_ADMIN_KEY).
import { randomUUID } from "node:crypto";
import { createPatchbayClient, PatchbayError, type components, type PatchbayClient } from "../src/index.js";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set. The tests need a running patchbay: PATCHBAY_URL (e.g. http://127.0.0.1:8080) ` +
        `and PATCHBAY_ADMIN_KEY (dev mode writes it to <data-dir>/admin.key).`,
    );
  }
  return value;
}

export const baseUrl = required("PATCHBAY_URL").replace(/\/+$/, "");
export const adminKey = required("PATCHBAY_ADMIN_KEY");
export const admin = createPatchbayClient({ baseUrl, key: adminKey });

/** The printing partner stand-in that `serve --dev` runs. */
export const demoPartner = {
  config: { shop_id: "demo-shop", api_base_url: "http://127.0.0.1:8181" },
  secrets: { api_key: "pp_test_emulator_key_0001", callback_secret: "a-long-callback-secret-value" },
};

/** `data` of an openapi-fetch result, after checking the status; a PatchbayError otherwise. */
export function expectStatus<T>(result: { data?: T; error?: unknown; response: Response }, status: number): T {
  if (result.response.status !== status) {
    const cause = new PatchbayError(result.response, result.error);
    throw new Error(`${result.response.url}: expected ${status}, got ${cause.message}`, { cause });
  }
  if (result.data === undefined) throw new Error(`${result.response.url}: ${status} without a body`);
  return result.data;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A new workspace (so each test sees only its own connections) and a client with its key. */
export async function newWorkspace(prefix = "ts-client"): Promise<{
  workspace: components["schemas"]["WorkspaceView"];
  secretKey: string;
  client: PatchbayClient;
}> {
  const created = expectStatus(await admin.POST("/v1/admin/workspaces", { body: { name: uniqueName(prefix) } }), 201);
  return {
    workspace: created.workspace,
    secretKey: created.secret_key,
    client: createPatchbayClient({ baseUrl, key: created.secret_key }),
  };
}

/** A draft printing_partner connection on the demo partner. */
export async function createPrintingConnection(client: PatchbayClient, ownerId: string) {
  return expectStatus(
    await client.POST("/v1/connections", {
      body: {
        connector: "printing_partner",
        owner: { id: ownerId, scope: { type: "event", id: "evt_1" } },
        config: demoPartner.config,
        secrets: demoPartner.secrets,
      },
    }),
    201,
  );
}

/** Polls `probe` until it returns a value other than undefined, for at most `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
