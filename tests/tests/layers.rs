//! The layers of the domain crate (docs/architecture.md, "Where things live"), held by a test
//! so they cannot drift. Reads `shared/src` as text: a module depends on another when it names
//! `crate::<other>` outside its unit tests.
//!
//! Two lists below record what the code has not yet reached (issue 18 moves the resources into
//! `mod.rs` / `repo.rs` / `api.rs` folders). They only shrink: a new entry fails the test, and
//! so does an entry the code no longer needs, so the list is kept exact.

use linkgate_tests::root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Knows nothing of the domain.
const FOUNDATION: &[&str] = &[
    "aws",
    "cache",
    "config",
    "cursor",
    "email",
    "error",
    "fields",
    "id",
    "lang",
    "metadata",
    "redirect_url",
    "seal",
    "secret",
    "store",
    "telemetry",
    "time",
];

/// The process and the request: who is calling (`tenant`, `api_key`), what a function
/// builds once (`app`), one request and its answer (`http`). Uses only the foundation and
/// each other.
const PLATFORM: &[&str] = &["api_key", "app", "http", "tenant"];

/// What binds routes and triggers to handlers: uses the domain, and nothing uses it.
const ENTRY: &[&str] = &["route", "run"];

/// Foundation files that may name `lambda_http`: the one mapping of errors to HTTP statuses,
/// and the runtime's logging.
const FOUNDATION_HTTP: &[&str] = &["error.rs", "telemetry.rs"];

/// Domain files that still mix HTTP with rules and storage. Target: none (only `api.rs` and
/// what lives under an `api/` folder).
const KNOWN_HTTP_MIXERS: &[&str] = &["connect.rs", "idempotency.rs"];

/// Dependencies that still close a cycle between modules. Target: none.
const KNOWN_CYCLE_EDGES: &[(&str, &str)] = &[
    ("connect", "connection"),
    ("connect", "consumer"),
    ("connect", "link"),
    ("connect", "settings"),
    ("connection", "consumer"),
    ("connection", "direct_connect"),
    ("connection", "link"),
    ("connection", "oauth"),
    ("connection", "refresh"),
    ("connection", "settings"),
    ("consumer", "connection"),
    ("direct_connect", "connection"),
    ("direct_connect", "consumer"),
    ("direct_connect", "link"),
    ("direct_connect", "oauth"),
    ("link", "connect"),
    ("link", "reminder"),
    ("oauth", "connect"),
    ("oauth", "connection"),
    ("oauth", "direct_connect"),
    ("oauth", "link"),
    ("refresh", "connection"),
    ("refresh", "link"),
    ("refresh", "oauth"),
    ("refresh", "settings"),
    ("reminder", "consumer"),
    ("reminder", "link"),
    ("reminder", "settings"),
    ("settings", "reminder"),
];

/// Every source file of the crate (path relative to `shared/src`), without its unit tests.
fn sources() -> BTreeMap<String, String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = match text.find("#[cfg(test)]\nmod tests") {
                    Some(i) => text[..i].to_owned(),
                    None => text,
                };
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, code);
            }
        }
    }
    let base = root().join("shared/src");
    let mut out = BTreeMap::new();
    walk(&base, &base, &mut out);
    out.remove("lib.rs");
    assert!(out.len() > 40, "read the crate: {:?}", out.keys());
    out
}

/// The top-level module a file belongs to (`consumer/api.rs` → `consumer`).
fn module_of(file: &str) -> String {
    file.split('/')
        .next()
        .unwrap()
        .trim_end_matches(".rs")
        .to_owned()
}

/// The modules `code` names through `crate::…` (re-exports at the root mapped to theirs).
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inside = &group[..group.find('}').unwrap_or(0)];
            for item in inside.split(',') {
                let first = item.trim().split("::").next().unwrap_or("").trim();
                if !first.is_empty() {
                    names.insert(first.to_owned());
                }
            }
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !ident.is_empty() {
                names.insert(ident);
            }
        }
    }
    names
        .into_iter()
        .map(|n| match n.as_str() {
            "App" => "app".to_owned(),
            "ApiError" => "error".to_owned(),
            _ => n,
        })
        .collect()
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, code) in sources() {
        let module = module_of(&file);
        let entry = deps.entry(module.clone()).or_default();
        for named in named_modules(&code) {
            if named != module {
                entry.insert(named);
            }
        }
    }
    deps
}

#[test]
fn the_foundation_knows_nothing_of_the_domain() {
    let deps = graph();
    for module in FOUNDATION {
        let outside: Vec<&String> = deps[*module]
            .iter()
            .filter(|d| !FOUNDATION.contains(&d.as_str()))
            .collect();
        assert!(outside.is_empty(), "{module} uses {outside:?}");
    }
}

#[test]
fn the_platform_uses_only_the_foundation_and_itself() {
    let deps = graph();
    for module in PLATFORM {
        let outside: Vec<&String> = deps[*module]
            .iter()
            .filter(|d| !FOUNDATION.contains(&d.as_str()) && !PLATFORM.contains(&d.as_str()))
            .collect();
        assert!(outside.is_empty(), "{module} uses {outside:?}");
    }
}

#[test]
fn nothing_uses_the_entry_points() {
    for (module, uses) in graph() {
        for entry in ENTRY {
            assert!(
                ENTRY.contains(&module.as_str()) || !uses.contains(*entry),
                "{module} uses {entry}"
            );
        }
    }
}

#[test]
fn no_new_cycle_between_modules() {
    let deps = graph();
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(m) = stack.pop() {
            for next in deps.get(&m).into_iter().flatten() {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        false
    };
    let mut in_cycles = BTreeSet::new();
    for (module, uses) in &deps {
        for used in uses {
            if reaches(used, module) {
                in_cycles.insert((module.clone(), used.clone()));
            }
        }
    }
    let known: BTreeSet<(String, String)> = KNOWN_CYCLE_EDGES
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let new: Vec<_> = in_cycles.difference(&known).collect();
    let gone: Vec<_> = known.difference(&in_cycles).collect();
    assert!(new.is_empty(), "new cycles through {new:?}");
    assert!(
        gone.is_empty(),
        "no longer in a cycle (remove from KNOWN_CYCLE_EDGES): {gone:?}"
    );
}

#[test]
fn only_the_boundary_knows_http() {
    let mut mixers = BTreeSet::new();
    for (file, code) in sources() {
        let module = module_of(&file);
        let http = code.contains("lambda_http") || code.contains("crate::http::");
        if !http || file.ends_with("api.rs") || file.contains("/api/") {
            continue;
        }
        if FOUNDATION.contains(&module.as_str()) {
            assert!(
                FOUNDATION_HTTP.contains(&file.as_str()),
                "{file} names HTTP"
            );
        } else if !PLATFORM.contains(&module.as_str()) && !ENTRY.contains(&module.as_str()) {
            mixers.insert(file);
        }
    }
    let known: BTreeSet<String> = KNOWN_HTTP_MIXERS.iter().map(|f| f.to_string()).collect();
    let new: Vec<_> = mixers.difference(&known).collect();
    let gone: Vec<_> = known.difference(&mixers).collect();
    assert!(
        new.is_empty(),
        "HTTP in a domain file outside api.rs: {new:?}"
    );
    assert!(
        gone.is_empty(),
        "no longer mixes HTTP (remove from KNOWN_HTTP_MIXERS): {gone:?}"
    );
}
