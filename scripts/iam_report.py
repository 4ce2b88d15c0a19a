#!/usr/bin/env python3
"""What the functions' roles grant against what the tests made them do.

moto_server.py records every authorisation of a function's AWS call during a run of the
local stack (target/dev/iam.jsonl); deployment.json holds the roles as SAM deploys them.

    iam_report.py           per function, the grants of template.yaml no call used (policies to
                            tighten), and every call that was refused
    iam_report.py --check   fails if a function was refused an action on one of the stack's
                            own resources (its table, key, queues, bus, SES identity): its
                            policy lacks a grant it needs, whatever the tests made of the error

Grants of AWS managed policies (logs, X-Ray, the event source pollers') are SAM's, not the
template's, and are not reported.
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import deployment as dep
import local_iam

DEV = dep.ROOT / "target" / "dev"


def own_resources(deployed):
    """ARN patterns of what the stack itself holds: a refusal on one of them is a gap."""
    params = deployed["params"]
    acct, region, stage = params["AWS::AccountId"], params["AWS::Region"], params["Stage"]
    return {
        f"arn:aws:dynamodb:{region}:{acct}:table/linkgate-{stage}",
        f"arn:aws:dynamodb:{region}:{acct}:table/linkgate-{stage}/*",
        f"arn:aws:kms:{region}:{acct}:key/*",
        f"arn:aws:sqs:{region}:{acct}:linkgate-{stage}-*",
        f"arn:aws:events:{region}:{acct}:event-bus/linkgate-{stage}",
        f"arn:aws:ses:{region}:{acct}:identity/{params.get('SesIdentity', '')}",
    }


def template_grants(fn):
    """(action, resource) patterns of the function's template-authored statements."""
    for st in fn["statements"]:
        if st["effect"] != "Allow" or st.get("managed"):
            continue
        for action in st["actions"]:
            for resource in st["resources"]:
                yield action, resource


def read_log(path):
    entries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                entries.append(json.loads(line))
    return entries


def report(deployed, entries):
    used = defaultdict(list)
    refused = []
    for e in entries:
        if e["allowed"]:
            used[e["function"]].append((e["action"], e["resource"]))
        else:
            refused.append(e)
    lines = []
    unused_total = 0
    for name, fn in sorted(deployed["functions"].items()):
        unused = []
        for action, resource in template_grants(fn):
            st = {"actions": [action], "resources": [resource]}
            if not any(local_iam.statement_matches(st, a, r) for a, r in used[name]):
                unused.append(f"{action} on {resource}")
        if unused:
            unused_total += len(unused)
            lines.append(f"{name}: granted, never used")
            lines += [f"    {u}" for u in unused]
    if not lines:
        lines.append("every grant of template.yaml was used by the tests")
    else:
        lines.append(f"({unused_total} grants never used: tighten them, or add the test that needs them)")
    if refused:
        lines.append("")
        lines.append("refused during the run:")
        for e in refused:
            lines.append(f"    {e['function']} ({e['access_key']}): {e['action']} on {e['resource']}")
    return "\n".join(lines)


def gaps(deployed, entries):
    """Refusals of a real function's call on one of the stack's own resources."""
    keys = {fn["access_key"] for fn in deployed["functions"].values()}
    own = own_resources(deployed)
    out = []
    for e in entries:
        if e["allowed"] or e["access_key"] not in keys:
            continue  # allowed, or a test's own principal (a role copied from a changed template)
        if any(local_iam._matches(p, e["resource"], True) for p in own) or e["resource"] == "*":
            out.append(e)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--log", default=str(DEV / "iam.jsonl"))
    parser.add_argument("--deployment", default=str(dep.DEPLOYMENT_FILE))
    args = parser.parse_args()
    if not Path(args.log).exists() or not Path(args.deployment).exists():
        sys.exit("[iam] no record of a run: `make test` (or `make dev` and some use) writes target/dev/iam.jsonl")
    deployed = dep.load(args.deployment)
    entries = read_log(args.log)
    if args.check:
        found = gaps(deployed, entries)
        for e in found:
            print(f"[iam] {e['function']} was refused {e['action']} on {e['resource']}: its policy in "
                  "template.yaml lacks a grant it uses", file=sys.stderr)
        calls = sum(1 for e in entries if e["access_key"] in {f["access_key"] for f in deployed["functions"].values()})
        print(f"[iam] {calls} distinct calls of {len({e['function'] for e in entries})} functions checked against "
              f"their roles; {len(found)} refused on the stack's own resources", file=sys.stderr)
        sys.exit(1 if found else 0)
    print(report(deployed, entries))


if __name__ == "__main__":
    main()
