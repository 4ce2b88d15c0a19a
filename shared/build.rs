//! Which provider catalogue is compiled in: `catalog/providers.json`, or the file
//! `LINKGATE_CATALOG` names (the bench's grown catalogue, `make bench-hot CATALOG_SIZE=N`).

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
}
