// The local stack `make test` starts (scripts/stack.py up), as described in target/dev/dev.json,
// and a fresh tenant per test file made with the real admin CLI.

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// dist/test/stack.js → the repository root.
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

export interface DevFacts {
  api_base_url: string;
  function_env: Record<string, string>;
}

export function facts(): DevFacts {
  const path = process.env.LINKGATE_DEV_JSON ?? resolve(ROOT, "target/dev/dev.json");
  try {
    return JSON.parse(readFileSync(path, "utf8")) as DevFacts;
  } catch (e) {
    throw new Error(`no local stack described at ${path}: run \`make test\` (or scripts/stack.py up) first (${e})`);
  }
}

function admin(args: string[]): any {
  const out = execFileSync(resolve(ROOT, "target/debug/linkgate-admin"), args, {
    cwd: ROOT,
    env: { ...process.env, ...facts().function_env },
    encoding: "utf8",
  });
  return JSON.parse(out);
}

export interface Tenant {
  id: string;
  adminKey: string;
  memberKey: string;
}

export function tenant(name: string): Tenant {
  const seeded = admin(["seed-demo", "--name", name]);
  const member = admin(["key", "create", "--tenant", seeded.tenant.id, "--role", "member"]);
  return { id: seeded.tenant.id, adminKey: seeded.api_key.secret, memberKey: member.secret };
}
