#!/usr/bin/env bash
# CI for the TypeScript client. Expects a running patchbay in dev mode (the tests use its demo
# printing partner on 127.0.0.1:8181), PATCHBAY_URL (e.g. http://127.0.0.1:8080) and
# PATCHBAY_ADMIN_KEY (dev mode writes it to <data-dir>/admin.key).
set -euo pipefail
cd "$(dirname "$0")"

: "${PATCHBAY_URL:?set PATCHBAY_URL to the running patchbay, e.g. http://127.0.0.1:8080}"
: "${PATCHBAY_ADMIN_KEY:?set PATCHBAY_ADMIN_KEY to the server admin key}"
export PATCHBAY_URL PATCHBAY_ADMIN_KEY

# Give a server that was started a moment ago up to 30 s to answer.
node -e '
const url = process.env.PATCHBAY_URL.replace(/\/+$/, "") + "/readyz";
const deadline = Date.now() + 30_000;
(async () => {
  for (;;) {
    try { if ((await fetch(url)).ok) return; } catch {}
    if (Date.now() > deadline) { console.error(`patchbay is not ready at ${url}`); process.exit(1); }
    await new Promise((r) => setTimeout(r, 250));
  }
})();
'

echo "== npm ci"
npm ci --no-audit --no-fund --prefer-offline
echo "== npm run check-generated"
npm run check-generated
echo "== npm test"
npm test
