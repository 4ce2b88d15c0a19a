"""Before and after: two `make bench` runs (results.json) side by side, as Markdown.

    python3 bench/compare.py BEFORE.json AFTER.json

`make bench` appends it to bench/RESULTS.md, the run before being the committed
results.json it replaces. Runs on different machines compare by ratio (init × the
baseline of the same run), by size and by counts; their milliseconds do not compare,
and the section says so when the machines differ.
"""

import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def dynamodb_calls(function):
    steady = function.get("aws_calls", {}).get("steady", {})
    return sum(steady.get("dynamodb", {}).values())


def by_name(run):
    return {f["function"]: f for f in run["functions"]}


def arrow(before, after, fmt):
    if before is None:
        return f"new: {fmt.format(after)}"
    if after is None:
        return f"{fmt.format(before)}: gone"
    return f"{fmt.format(before)} → {fmt.format(after)}"


def row(name, before, after):
    def get(f, key):
        return None if f is None else key(f)

    cells = [
        ("{:.2f}", lambda f: f["zip_bytes"] / 1e6),
        ("{:.2f}×", lambda f: f["init_ratio_to_baseline"]),
        ("{:.2f}", lambda f: f["overhead_ms_p50"]),
        ("{:d}", dynamodb_calls),
        ("{:.1f}", lambda f: f["peak_rss_bytes"] / 1e6),
    ]
    return "| {} | {} |".format(
        name,
        " | ".join(arrow(get(before, key), get(after, key), fmt) for fmt, key in cells),
    )


def goals(run, targets):
    """How many functions meet the init and overhead targets (the harness's, as `targets`)."""
    functions = [f for f in run["functions"] if f["function"] != "bench-baseline"]
    init = sum(f["init_ratio_to_baseline"] <= targets["init_ratio"] for f in functions)
    overhead = sum(f["overhead_ms_p50"] < targets["overhead_ms"] for f in functions)
    return len(functions), init, overhead


def describe(run):
    m = run["machine"]
    return f"`{m['commit']}`, {run['measured_at']}, {m['cpu']}"


def render(before, after):
    b, a = by_name(before), by_name(after)
    names = [f["function"] for f in after["functions"]]
    names += [n for n in b if n not in a]
    lines = [
        "",
        "## Before and after",
        "",
        f"Before: {describe(before)}. After: {describe(after)}.",
    ]
    if before["machine"]["cpu"] != after["machine"]["cpu"]:
        lines.append(
            "The runs were taken on different machines: compare the ratios, sizes and counts; "
            "milliseconds (overhead here) move with the machine."
        )
    lines += [
        "",
        "| Function | Zip MB | Init × baseline | Overhead ms | DynamoDB calls | Peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    lines += [row(n, b.get(n), a.get(n)) for n in names]
    # Both runs judged by today's targets, as the harness wrote them.
    targets = after["targets"]
    (n_b, init_b, over_b) = goals(before, targets)
    (n_a, init_a, over_a) = goals(after, targets)
    lines += [
        "",
        f"Within init ≤ {targets['init_ratio']}×: {init_b} of {n_b} before, {init_a} of {n_a} after. "
        f"Within overhead < {targets['overhead_ms']:g} ms: {over_b} of {n_b} before, {over_a} of {n_a} after.",
        "",
    ]
    return "\n".join(lines)


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    print(render(load(argv[1]), load(argv[2])), end="")


if __name__ == "__main__":
    main(sys.argv)
