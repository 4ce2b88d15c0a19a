"""bench/grow_catalog.py: the catalogue `make bench-hot CATALOG_SIZE=N` builds with."""

import importlib.util
import json
import pathlib
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("grow_catalog", ROOT / "bench/grow_catalog.py")
grow_catalog = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(grow_catalog)


class GrowCatalogTest(unittest.TestCase):
    def setUp(self):
        self.shipped = json.loads((ROOT / "shared/catalog/providers.json").read_text())

    def test_grows_to_the_size_asked_with_the_shipped_providers_first_and_unchanged(self):
        grown = grow_catalog.grow(self.shipped, 500)
        self.assertEqual(len(grown["providers"]), 500)
        n = len(self.shipped["providers"])
        self.assertEqual(grown["providers"][:n], self.shipped["providers"])
        self.assertEqual(grown["version"], self.shipped["version"])

    def test_copies_keep_the_catalogue_rules_that_copying_could_break(self):
        grown = grow_catalog.grow(self.shipped, 500)["providers"]
        ids = [p["id"] for p in grown]
        self.assertEqual(len(ids), len(set(ids)), "ids are unique")
        for p in grown:
            self.assertRegex(p["id"], r"^[a-z0-9]+(-[a-z0-9]+)*$")
            self.assertRegex(p["color"], r"^#[0-9A-F]{6}$", p["id"])
        copies = grown[len(self.shipped["providers"]):]
        self.assertFalse(any(p.get("local_only") for p in copies), "one local test provider")
        # the shapes keep their proportions: every auth mode is copied
        self.assertEqual(
            {p["auth_mode"] for p in copies},
            {p["auth_mode"] for p in self.shipped["providers"]},
        )

    def test_a_size_below_the_shipped_catalogue_changes_nothing(self):
        self.assertEqual(grow_catalog.grow(self.shipped, 1), self.shipped)


if __name__ == "__main__":
    unittest.main()
