//! The provider catalogue, split at build time: `$OUT_DIR/catalog_entries.rs` holds each
//! provider's id and its own JSON, and the ids' order, so a function finds a provider by a
//! binary search over the ids and parses only the providers it uses, however large the
//! catalogue grows. The file is
//! `catalog/providers.json`, or the one `LINKGATE_CATALOG` names (the bench's grown
//! catalogue, `make bench-hot CATALOG_SIZE=N`). Its rules are checked by the unit tests
//! (`provider::Catalog::parse`), not here: a broken file still builds, and fails them.

use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-env-changed=LINKGATE_CATALOG");
    let path = match std::env::var("LINKGATE_CATALOG") {
        Ok(p) if !p.is_empty() => p,
        _ => format!(
            "{}/catalog/providers.json",
            std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into())
        ),
    };
    println!("cargo:rerun-if-changed={path}");
    println!("cargo:rustc-env=LINKGATE_CATALOG_FILE={path}");

    let (entries, error) = match split(&path) {
        Ok(entries) => (entries, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    // Ids and JSON apart, so that a lookup reads only the ids' few pages of the binary.
    let mut out = String::from("/// Each provider's id, in the file's order.\n");
    out.push_str("pub(crate) const IDS: &[&str] = &[\n");
    for (id, _) in &entries {
        let _ = writeln!(out, "    {id:?},");
    }
    out.push_str("];\n/// Each provider's JSON, in the file's order.\n");
    out.push_str("pub(crate) const JSON: &[&str] = &[\n");
    for (_, json) in &entries {
        let _ = writeln!(out, "    {json:?},");
    }
    // Positions sorted by id; of a repeated id, the first (Catalog::parse reports it).
    let mut by_id: Vec<usize> = (0..entries.len()).collect();
    by_id.sort_by(|&a, &b| entries[a].0.cmp(&entries[b].0).then(a.cmp(&b)));
    by_id.dedup_by(|b, a| entries[*a].0 == entries[*b].0);
    out.push_str("];\n/// Positions in IDS, sorted by id.\n");
    let _ = writeln!(out, "pub(crate) const BY_ID: &[u32] = &{by_id:?};");
    let _ = writeln!(
        out,
        "/// Why the file could not be split, if it could not.\npub(crate) const SPLIT_ERROR: Option<&str> = {error:?};"
    );
    let dir = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    if let Err(e) = std::fs::write(format!("{dir}/catalog_entries.rs"), out) {
        panic!("writing catalog_entries.rs: {e}");
    }
}

fn split(path: &str) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let file: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if file["version"] != 1 {
        return Err(format!("unknown catalog version {}", file["version"]));
    }
    let providers = file["providers"].as_array().ok_or("no providers array")?;
    providers
        .iter()
        .map(|p| {
            let id = p["id"].as_str().ok_or("a provider without an id")?;
            Ok((id.to_owned(), p.to_string()))
        })
        .collect()
}
