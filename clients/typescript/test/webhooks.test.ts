import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { paginate } from "../src/index.js";
import { createPrintingConnection, expectStatus, newWorkspace, waitFor } from "./helpers.js";

interface Received {
  headers: Record<string, string>;
  body: string;
}

// A subscriber on a random loopback port that keeps every request it gets and answers 204.
const received: Received[] = [];
let server: Server;
let hookUrl: string;

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ headers: flatten(req.headers), body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/patchbay-events`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test("a subscription receives connection events signed per Standard Webhooks", async () => {
  const { client } = await newWorkspace("ts-webhooks");
  const subscription = expectStatus(
    await client.POST("/v1/subscriptions", { body: { url: hookUrl, event_types: ["connection.*"], description: "ts client test" } }),
    201,
  );
  assert.equal(subscription.url, hookUrl);
  assert.equal(subscription.enabled, true);
  const secret = subscription.signing_secret;
  assert.ok(typeof secret === "string" && secret.startsWith("whsec_"), `a whsec_ signing secret, got ${secret}`);

  // Creating and enabling a connection writes connection.created and connection.enabled.
  const connection = await createPrintingConnection(client, "webhook-owner");
  expectStatus(
    await client.PATCH("/v1/connections/{id}", { params: { path: { id: connection.id } }, body: { lifecycle: "enabled" } }),
    200,
  );

  const webhook = new Webhook(secret);
  const forConnection = () =>
    received
      .map((r) => ({ ...r, event: webhook.verify(r.body, r.headers) as { type: string; timestamp: string; data: Record<string, unknown> } }))
      .filter((r) => r.event.data.connection_id === connection.id);

  let deliveries: ReturnType<typeof forConnection>;
  try {
    deliveries = await waitFor("connection.enabled at the subscriber", () => {
      const got = forConnection();
      return got.some((d) => d.event.type === "connection.enabled") ? got : undefined;
    });
  } catch (err) {
    // Say why, from patchbay's side: a refused loopback address shows here as last_error.
    const list = await client.GET("/v1/subscriptions/{id}/deliveries", { params: { path: { id: subscription.id } } });
    throw new Error(`${(err as Error).message}; deliveries: ${JSON.stringify(list.data ?? list.error)}`, { cause: err });
  }

  // A connection's events arrive in order, each signed and with its event id as webhook-id.
  const types = deliveries.map((d) => d.event.type);
  assert.ok(types.indexOf("connection.created") !== -1, `connection.created delivered: ${types.join(", ")}`);
  assert.ok(types.indexOf("connection.created") < types.indexOf("connection.enabled"), `in order: ${types.join(", ")}`);
  const enabled = deliveries.find((d) => d.event.type === "connection.enabled")!;
  assert.equal(enabled.headers["content-type"]?.split(";")[0], "application/json");
  assert.equal(enabled.event.data.connector, "printing_partner");
  assert.equal(enabled.event.data.owner_id, "webhook-owner");
  assert.ok(!Number.isNaN(Date.parse(enabled.event.timestamp)));
  const webhookId = enabled.headers["webhook-id"];
  assert.ok(webhookId);

  const outbox: string[] = [];
  for await (const event of paginate((cursor) => client.GET("/v1/events", { params: { query: { limit: 100, cursor } } }))) {
    if (event.type === "connection.enabled" && event.connection_id === connection.id) outbox.push(event.id);
  }
  assert.deepEqual(outbox, [webhookId], "webhook-id is the outbox event's id");

  // Any change to the signed bytes, or another secret, fails verification.
  const tampered = enabled.body.replace("connection.enabled", "connection.revoked");
  assert.notEqual(tampered, enabled.body);
  assert.throws(() => webhook.verify(tampered, enabled.headers), WebhookVerificationError);
  assert.throws(() => webhook.verify(enabled.body + " ", enabled.headers), WebhookVerificationError);
  const otherSecret = `whsec_${Buffer.from("another-secret-of-32-bytes-length").toString("base64")}`;
  assert.throws(() => new Webhook(otherSecret).verify(enabled.body, enabled.headers), WebhookVerificationError);

  // patchbay records the deliveries as succeeded once the 204s are in.
  await waitFor("the deliveries to be recorded as succeeded", async () => {
    const list = expectStatus(
      await client.GET("/v1/subscriptions/{id}/deliveries", { params: { path: { id: subscription.id } } }),
      200,
    );
    const done = list.data.filter((d) => d.status === "succeeded");
    return done.length >= 2 ? done : undefined;
  });
});
