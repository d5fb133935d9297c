// A typed client for the patchbay API: openapi-fetch over the types openapi-typescript
// generates from the server's /openapi.json (src/schema.d.ts, `npm run generate`).
import createClient, { type Client } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };
export type PatchbayClient = Client<paths>;

export interface PatchbayClientOptions {
  /** The server, e.g. `http://127.0.0.1:8080` (no `/v1`: paths carry it). */
  baseUrl: string;
  /** An admin key, a workspace secret key or an integration principal key. */
  key: string;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof globalThis.fetch;
  /** Headers sent with every request besides `Authorization`. */
  headers?: Record<string, string>;
}

/** A client whose every request carries `Authorization: Bearer <key>`. */
export function createPatchbayClient({ baseUrl, key, fetch, headers }: PatchbayClientOptions): PatchbayClient {
  return createClient<paths>({
    baseUrl: baseUrl.replace(/\/+$/, ""),
    headers: { ...headers, Authorization: `Bearer ${key}` },
    ...(fetch ? { fetch } : {}),
  });
}

/** patchbay's error body: `{"error": {"code", "message", "details"}}`. */
export interface PatchbayErrorBody {
  error?: { code?: string; message?: string; details?: unknown };
}

/** A non-2xx answer, with the status and patchbay's error code. */
export class PatchbayError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly body: unknown;

  constructor(response: Response, body: unknown) {
    const error = (body as PatchbayErrorBody | undefined)?.error;
    const details = error?.details === undefined ? "" : ` ${JSON.stringify(error.details).slice(0, 500)}`;
    super(`${response.status} ${error?.code ?? response.statusText}: ${error?.message ?? "request failed"}${details}`);
    this.name = "PatchbayError";
    this.status = response.status;
    this.code = error?.code;
    this.body = body;
  }
}

/** One page of a list route: `next_cursor` is absent (or null) on the last page. */
export interface Page<T> {
  data: T[];
  next_cursor?: string | null;
}

/** What an openapi-fetch call resolves to, as far as paging needs it. */
export interface FetchResult<T> {
  data?: Page<T>;
  error?: unknown;
  response: Response;
}

/**
 * Pages of a list route. `fetchPage` gets the cursor to send (undefined for the first page) and
 * makes the call, e.g.
 *
 *     pages((cursor) => client.GET("/v1/connections", { params: { query: { limit: 100, cursor } } }))
 *
 * Follows `next_cursor` until a page has none; throws a PatchbayError for an error answer.
 */
export async function* pages<T>(fetchPage: (cursor: string | undefined) => Promise<FetchResult<T>>): AsyncGenerator<Page<T>> {
  let cursor: string | undefined;
  const seen = new Set<string>();
  for (;;) {
    const { data, error, response } = await fetchPage(cursor);
    if (error !== undefined || data === undefined) throw new PatchbayError(response, error);
    yield data;
    const next = data.next_cursor;
    if (next === undefined || next === null || next === "") return;
    if (seen.has(next)) throw new Error(`the server answered cursor ${JSON.stringify(next)} twice; stopping`);
    seen.add(next);
    cursor = next;
  }
}

/** Every item of a list route, page after page (see `pages`). */
export async function* paginate<T>(fetchPage: (cursor: string | undefined) => Promise<FetchResult<T>>): AsyncGenerator<T> {
  for await (const page of pages(fetchPage)) yield* page.data;
}
