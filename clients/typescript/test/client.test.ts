import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createPatchbayClient, pages, paginate, PatchbayError } from "../src/index.js";
import { admin, baseUrl, createPrintingConnection, demoPartner, expectStatus, newWorkspace, uniqueName } from "./helpers.js";

describe("workspaces", () => {
  test("the admin key creates a workspace whose secret key works on workspace routes only", async () => {
    const name = uniqueName("ts-workspace");
    const created = expectStatus(await admin.POST("/v1/admin/workspaces", { body: { name } }), 201);
    assert.equal(created.workspace.name, name);
    assert.match(created.workspace.id, /\S/);
    assert.match(created.secret_key, /\S{16,}/);

    const client = createPatchbayClient({ baseUrl, key: created.secret_key });
    const connectors = expectStatus(await client.GET("/v1/connectors"), 200);
    assert.ok(
      connectors.data.some((c) => c.key === "printing_partner"),
      "the catalog lists printing_partner",
    );

    const forbidden = await client.GET("/v1/admin/workspaces");
    assert.equal(forbidden.response.status, 403);
    assert.equal(new PatchbayError(forbidden.response, forbidden.error).code, "forbidden");

    const anonymous = await createPatchbayClient({ baseUrl, key: "not-a-key" }).GET("/v1/connections");
    assert.equal(anonymous.response.status, 401);
  });
});

describe("connections", () => {
  test("a printing_partner connection is created as a draft and enabled", async () => {
    const { workspace, client } = await newWorkspace();
    const created = await createPrintingConnection(client, "user-42");
    assert.equal(created.connector, "printing_partner");
    assert.equal(created.workspace_id, workspace.id);
    assert.equal(created.lifecycle, "draft");
    assert.deepEqual(created.owner, { id: "user-42", scope: { type: "event", id: "evt_1" } });
    assert.equal(created.account_id, "demo-shop");
    assert.deepEqual(created.config, demoPartner.config);
    assert.deepEqual(created.validation_errors, [], "the demo config is valid");
    assert.ok(created.allowed_transitions.includes("enabled"));
    assert.match(created.principal_key, /\S{16,}/);
    assert.deepEqual(Object.keys(created.redacted_secrets).sort(), ["api_key", "callback_secret"]);
    const body = JSON.stringify(created);
    for (const secret of Object.values(demoPartner.secrets)) assert.ok(!body.includes(secret), "no secret value in the answer");

    const enabled = expectStatus(
      await client.PATCH("/v1/connections/{id}", { params: { path: { id: created.id } }, body: { lifecycle: "enabled" } }),
      200,
    );
    assert.equal(enabled.id, created.id);
    assert.equal(enabled.lifecycle, "enabled");
    assert.ok(enabled.allowed_transitions.includes("disabled"));
    assert.ok(!enabled.allowed_transitions.includes("enabled"));

    const shown = expectStatus(await client.GET("/v1/connections/{id}", { params: { path: { id: created.id } } }), 200);
    assert.equal(shown.lifecycle, "enabled");

    const again = await client.PATCH("/v1/connections/{id}", { params: { path: { id: created.id } }, body: { lifecycle: "draft" } });
    assert.equal(again.response.status, 409, "enabled -> draft is not a lifecycle transition");
    assert.equal(new PatchbayError(again.response, again.error).code, "invalid_transition");
  });

  test("an unknown connection is a 404 in the error shape", async () => {
    const { client } = await newWorkspace();
    const missing = await client.GET("/v1/connections/{id}", { params: { path: { id: "conn_does_not_exist" } } });
    assert.equal(missing.response.status, 404);
    assert.equal(missing.data, undefined);
    assert.equal(new PatchbayError(missing.response, missing.error).code, "not_found");
  });

  test("GET /v1/connections pages with limit and cursor until next_cursor ends", async () => {
    const { client } = await newWorkspace("ts-paging");
    const created = new Set<string>();
    for (let i = 0; i < 5; i++) created.add((await createPrintingConnection(client, `pager-${i}`)).id);
    assert.equal(created.size, 5);

    const sizes: number[] = [];
    const seen: string[] = [];
    for await (const page of pages((cursor) => client.GET("/v1/connections", { params: { query: { limit: 2, cursor } } }))) {
      sizes.push(page.data.length);
      seen.push(...page.data.map((c) => c.id));
    }
    assert.deepEqual(sizes, [2, 2, 1]);
    assert.equal(new Set(seen).size, seen.length, `every id once: ${seen.join(", ")}`);
    assert.deepEqual(new Set(seen), created);

    // Filters are query parameters too, and paginate() yields the items.
    const filtered: string[] = [];
    for await (const c of paginate((cursor) =>
      client.GET("/v1/connections", { params: { query: { owner_id: "pager-3", limit: 2, cursor } } }),
    )) {
      assert.equal(c.owner.id, "pager-3");
      filtered.push(c.id);
    }
    assert.equal(filtered.length, 1);
  });
});
