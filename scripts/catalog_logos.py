#!/usr/bin/env python3
"""Regenerates the catalogue's provider logos from the `simple-icons` npm package.

    python3 scripts/catalog_logos.py [--version 16.37.0]

Fetches the package with `npm pack` (nothing installed), and for every provider whose
brand has a mark there (SLUGS below names the mark where the id alone does not) writes into
shared/catalog/providers.json:

- `logo_svg`: the mark, white or black (whichever reads better) on its brand colour, in a
  64×64 rounded square like our initials logos;
- `logo_source`: the package, version, slug and the mark's licence as the package states it.

and rewrites shared/catalog/LOGOS.md, the record of what came from where under which
licence. Providers without a mark keep the initials logo drawn at run time. The functions
sanitise every logo with the branding logos' SVG allow-list before serving it, and the
catalogue tests hold each one to it. Marks are trademarks of their owners; see LOGOS.md.
"""

import argparse
import json
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "shared" / "catalog" / "providers.json"
RECORD = ROOT / "shared" / "catalog" / "LOGOS.md"
DEFAULT_VERSION = "16.37.0"

# Provider id -> simple-icons slug, where they differ. A provider not named here uses its
# own id; `None` keeps initials on purpose.
SLUGS = {
    "sage-accounting": "sage",
    "zoho-crm": "zoho",
    "google-workspace": "google",
    "zoho-invoice": "zoho",
    "zoho-inventory": "zoho",
    "zoho-desk": "zoho",
    "zendesk-sell": "zendesk",
    "invoice-ninja": "invoiceninja",
    "lemon-squeezy": "lemonsqueezy",
    "terraform-cloud": "terraform",
    "campaign-monitor": "campaignmonitor",
    "backblaze-b2": "backblaze",
    "toggl-track": "toggltrack",
    "cal-com": "caldotcom",
    # the package's `kit` is kit.co, not Kit (ConvertKit)
    "kit": None,
}


def fetch(version, into):
    """The package's data and icons directory, unpacked into `into`."""
    out = subprocess.run(
        ["npm", "pack", f"simple-icons@{version}", "--silent", "--pack-destination", str(into)],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    with tarfile.open(into / out) as tar:
        tar.extractall(into, filter="data")
    package = into / "package"
    data = json.loads((package / "data" / "simple-icons.json").read_text())
    return {icon["slug"]: icon for icon in data}, package / "icons"


def luminance(hex6):
    def channel(i):
        c = int(hex6[i:i + 2], 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)


def foreground(hex6):
    """White or black, whichever contrasts more with the brand colour (WCAG 2)."""
    l = luminance(hex6)
    return "#FFFFFF" if 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 else "#000000"


def escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def logo(name, icon, svg_text):
    paths = re.findall(r'<path d="([^"]+)"\s*/>', svg_text)
    if len(paths) != 1:
        raise SystemExit(f"{icon['slug']}: expected one path, found {len(paths)}")
    hex6 = icon["hex"].upper()
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64" '
        f'role="img" aria-label="{escape(name)}">'
        f'<rect width="64" height="64" rx="14" fill="#{hex6}"/>'
        f'<g transform="translate(14 14) scale(1.5)" fill="{foreground(hex6)}">'
        f'<path d="{paths[0]}"/></g></svg>'
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=DEFAULT_VERSION)
    args = parser.parse_args()
    text = CATALOG.read_text()
    catalog = json.loads(text)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        icons, folder = fetch(args.version, Path(tmp))
        for provider in catalog["providers"]:
            provider.pop("logo_svg", None)
            provider.pop("logo_source", None)
            slug = SLUGS.get(provider["id"], provider["id"])
            icon = icons.get(slug) if slug else None
            if provider.get("local_only") or icon is None:
                rows.append((provider["id"], "—", "initials (no mark in the package)"))
                continue
            licence = (icon.get("license") or {}).get("type") or "CC0-1.0 (the collection's; no licence stated for the mark)"
            provider["logo_svg"] = logo(provider["name"], icon, (folder / f"{slug}.svg").read_text())
            provider["logo_source"] = {
                "package": "simple-icons", "version": args.version, "slug": slug, "license": licence,
            }
            rows.append((provider["id"], slug, licence))
    CATALOG.write_text(json.dumps(catalog, indent=2, ensure_ascii=False) + "\n")
    lines = [
        "# Provider logos",
        "",
        f"Generated by `scripts/catalog_logos.py` from the npm package `simple-icons` {args.version}",
        "(https://simpleicons.org, released under CC0-1.0), never edited by hand. Each mark is drawn",
        "on its brand colour in a 64×64 square. The marks are trademarks of their owners, used",
        "here only to let a customer recognise the software they connect; Simple Icons asks its",
        "users to read its disclaimer (DISCLAIMER.md in the package) and to respect each brand's",
        "guidelines. Where the package states a licence for a mark, it is below.",
        "",
        "| provider | simple-icons slug | licence |",
        "| --- | --- | --- |",
    ] + [f"| `{p}` | {s if s == '—' else f'`{s}`'} | {l} |" for p, s, l in rows]
    RECORD.write_text("\n".join(lines) + "\n")
    print(f"{sum(1 for r in rows if r[1] != '—')} of {len(rows)} providers have a mark")


if __name__ == "__main__":
    main()
