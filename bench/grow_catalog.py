#!/usr/bin/env python3
"""A provider catalogue grown to N providers, for `make bench-hot CATALOG_SIZE=N`.

The shipped providers come first, unchanged (the bench's fixtures use stripe and github),
then copies of them under new ids, names and colours until there are N: the same shapes
(OAuth, API keys, patterns, connection fields) in the proportions the real catalogue has, so
what grows is only the count. Valid by the catalogue's own rules (`Catalog::parse`).
"""

import argparse
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def grow(catalog: dict, size: int) -> dict:
    shipped = catalog["providers"]
    providers = list(shipped)
    n = 0
    while len(providers) < size:
        source = shipped[n % len(shipped)]
        round_ = n // len(shipped) + 2
        n += 1
        if source.get("local_only"):
            continue  # the local test provider is one of a kind
        copy = json.loads(json.dumps(source))
        copy["id"] = f"{source['id']}-{round_}"
        copy["name"] = f"{source['name']} {round_}"
        copy["color"] = "#%06X" % ((int(source["color"][1:], 16) + 0x010203 * round_) & 0xFFFFFF)
        providers.append(copy)
    return {**catalog, "providers": providers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("size", type=int)
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    catalog = json.loads((ROOT / "shared/catalog/providers.json").read_text())
    grown = grow(catalog, args.size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(grown, indent=1) + "\n")
    print(f"{args.out}: {len(grown['providers'])} providers")


if __name__ == "__main__":
    main()
