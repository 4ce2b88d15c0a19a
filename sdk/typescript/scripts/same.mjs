// Fails when the committed schema.ts is not what openapi.yaml generates today.
import { readFileSync } from "node:fs";

const [committed, fresh] = process.argv.slice(2).map((p) => readFileSync(p, "utf8"));
if (committed !== fresh) {
  console.error("src/schema.ts is stale: run `npm run generate` in sdk/typescript and commit it");
  process.exit(1);
}
