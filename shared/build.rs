//! The provider catalogue, split at build time: `$OUT_DIR/catalog_entries.rs` holds each
//! provider's id and its own JSON, so a function finds a provider by id and parses only the
//! providers it uses, however large the catalogue grows. The file is
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
    let mut out = String::from("/// Each provider's id and JSON, in the file's order.\n");
    out.push_str("pub(crate) const ENTRIES: &[(&str, &str)] = &[\n");
    for (id, json) in &entries {
        let _ = writeln!(out, "    ({id:?}, {json:?}),");
    }
    out.push_str("];\n");
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
