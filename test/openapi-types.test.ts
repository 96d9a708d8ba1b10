/**
 * The CLI is a client of the public contract: its HTTP types (src/cli/client/api-types.ts) are
 * generated from the service's own /openapi.json. Regenerated here in memory, they must equal the
 * committed file; when a route's schema changes, `npm run openapi:types` brings the CLI along.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { API_TYPES_FILE, apiTypes } from '../scripts/openapi-types.ts';

describe("the CLI's generated API types", () => {
  it("are current with the service's OpenAPI document", { timeout: 120_000 }, async () => {
    const committed = readFileSync(API_TYPES_FILE, 'utf8');
    assert.ok(
      committed === (await apiTypes()),
      'src/cli/client/api-types.ts is stale: run `npm run openapi:types` and commit it',
    );
  });
});
