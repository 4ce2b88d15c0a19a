//! The layers of the domain crate (docs/architecture.md, "Where things live"), held by a test
//! so they cannot drift. Reads `shared/src` as text: a module depends on another when it names
//! `crate::<other>` outside its unit tests. A resource's boundary (its `api.rs`, or what lives
//! under an `api/` folder) counts as a module of its own, `<resource>::api`, one layer above
//! the domain: the route table uses it, it uses the domain, and the domain never uses it.

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
    "idempotency",
    "lang",
    "metadata",
    "outbound",
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
const PLATFORM: &[&str] = &[
    "access_token",
    "api_key",
    "app",
    "dialect",
    "http",
    "tenant",
];

/// What binds routes and triggers to handlers: uses the domain, and nothing uses it.
const ENTRY: &[&str] = &["route", "run"];

/// Foundation files that may name `lambda_http`: the one mapping of errors to HTTP statuses,
/// and the runtime's logging.
const FOUNDATION_HTTP: &[&str] = &["error.rs", "telemetry.rs"];

/// What talks to the store: the SDK, the store module, the shared table client, conditional
/// expressions and transaction items.
const STORE_MARKERS: &[&str] = &[
    "aws_sdk_dynamodb",
    "crate::store",
    "app.store",
    ".transact(",
    "_tx(",
    "condition_expression",
    "attribute_exists",
    "attribute_not_exists",
    "tenant_pk(",
];

/// What only a resource's `repo.rs` (or what lives under its `repo/`) writes: keys, condition
/// and update expressions, and the store's item-level calls.
const EXPRESSION_MARKERS: &[&str] = &[
    "aws_sdk_dynamodb",
    "attribute_exists",
    "attribute_not_exists",
    "\"SET ",
    "\"REMOVE ",
    "tenant_pk(",
    ".put_tx(",
    ".update_tx(",
    ".delete_tx(",
    ".check_tx(",
    ".check_tx_with(",
    ".update_returning(",
    ".put_new(",
    ".index_page(",
    ".page_all(",
    ".due_all(",
    "condition_expression",
];

fn without_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Every source file of the crate (path relative to `shared/src`), without its unit tests.
fn sources() -> BTreeMap<String, String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
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

/// The module a file belongs to: its resource (`consumer/mod.rs` → `consumer`), or the
/// resource's boundary (`consumer/api.rs`, `connect/api/browser.rs` → `consumer::api`, `connect::api`).
fn module_of(file: &str) -> String {
    let resource = file.split('/').next().unwrap().trim_end_matches(".rs");
    if is_boundary(file) {
        format!("{resource}::api")
    } else {
        resource.to_owned()
    }
}

fn is_boundary(file: &str) -> bool {
    file.ends_with("/api.rs") || file.contains("/api/")
}

/// The modules `code` names through `crate::…` (re-exports at the root mapped to theirs); a
/// path through an `api` module names that resource's boundary.
fn named_modules(code: &str) -> BTreeSet<String> {
    let path_of = |text: &str| -> Vec<String> {
        text.split("::")
            .map(|segment| {
                segment
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|segment| !segment.is_empty())
            .collect()
    };
    let module_of_path = |path: Vec<String>| -> Option<String> {
        let first = path.first()?.clone();
        let first = match first.as_str() {
            "App" => "app".to_owned(),
            "ApiError" => "error".to_owned(),
            _ => first,
        };
        Some(if path.iter().any(|s| s == "api") {
            format!("{first}::api")
        } else {
            first
        })
    };
    let mut names = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let end = rest
            .find([';', ')', '(', '<', ' ', '\n'])
            .unwrap_or(rest.len());
        if let Some(group) = rest.strip_prefix('{') {
            let inside = &group[..group.find('}').unwrap_or(0)];
            names.extend(
                inside
                    .split(',')
                    .filter_map(|item| module_of_path(path_of(item))),
            );
        } else if let Some(open) = rest[..end].find("::{") {
            // `crate::a::b::{c, d}`: the prefix decides the module.
            names.extend(module_of_path(path_of(&rest[..open])));
        } else {
            names.extend(module_of_path(path_of(&rest[..end])));
        }
    }
    names
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
fn no_cycle_between_modules() {
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
    assert!(in_cycles.is_empty(), "cycles through {in_cycles:?}");
}

/// The module path of a file (`webhook/delivery/mod.rs` → `[webhook, delivery]`).
fn module_path(file: &str) -> Vec<String> {
    let mut path: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if path.last().is_some_and(|l| l == "mod") {
        path.pop();
    }
    path
}

/// The modules whose boundary `code` names by a path (`link::api::…`, `super::api::…`),
/// however the path was brought in scope; `super` and `self` are resolved from `file`.
fn boundaries_named(code: &str, file: &str) -> BTreeSet<String> {
    let path = module_path(file);
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("::api") {
        let after = code[i + "::api".len()..].chars().next();
        if after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let owner: String = code[..i]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let resolved = match owner.as_str() {
            "self" => path.last().cloned().unwrap_or_default(),
            "super" if path.len() >= 2 => path[path.len() - 2].clone(),
            _ => owner,
        };
        out.insert(resolved);
    }
    out
}

#[test]
fn a_boundary_is_named_only_by_the_route_table_and_its_own_resource() {
    for (file, code) in sources() {
        let path = module_path(&file);
        if ENTRY.contains(&path[0].as_str()) {
            continue;
        }
        let named = boundaries_named(&code, &file);
        if is_boundary(&file) {
            // Its own parts: `webhook/delivery/api.rs` may name `webhook::api`.
            let others: Vec<&String> = named.iter().filter(|r| !path.contains(r)).collect();
            assert!(others.is_empty(), "{file} names the boundary of {others:?}");
        } else {
            assert!(
                named.is_empty(),
                "{file} (domain) names the boundary of {named:?}"
            );
        }
    }
}

#[test]
fn only_the_route_table_uses_a_boundary() {
    let deps = graph();
    assert!(
        deps["route"].iter().any(|d| d.ends_with("::api")),
        "the graph sees boundaries: {:?}",
        deps["route"]
    );
    for (module, uses) in &deps {
        let boundaries: Vec<&String> = uses.iter().filter(|d| d.ends_with("::api")).collect();
        assert!(
            boundaries.is_empty() || ENTRY.contains(&module.as_str()),
            "{module} uses {boundaries:?}"
        );
    }
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
    assert!(
        mixers.is_empty(),
        "HTTP in a domain file outside api.rs: {mixers:?}"
    );
}

#[test]
fn no_file_mixes_http_with_the_store() {
    let mut mixers = BTreeMap::new();
    for (file, code) in sources() {
        let http = code.contains("lambda_http") || code.contains("crate::http::");
        if !http || FOUNDATION_HTTP.contains(&file.as_str()) {
            continue;
        }
        // `app\n    .store` is `app.store`: compare without whitespace.
        let compact = without_whitespace(&code);
        let store: Vec<&str> = STORE_MARKERS
            .iter()
            .copied()
            .filter(|m| compact.contains(&without_whitespace(m)))
            .collect();
        if !store.is_empty() {
            mixers.insert(file, store);
        }
    }
    assert!(
        mixers.is_empty(),
        "HTTP and the store in one file: {mixers:?}"
    );
}

#[test]
fn a_resource_keeps_its_keys_and_conditions_in_its_repo() {
    let mut outside = BTreeMap::new();
    for (file, code) in sources() {
        let in_folder = file.contains('/');
        let repo = file.ends_with("/repo.rs") || file.contains("/repo/");
        if !in_folder || repo {
            continue;
        }
        let compact = without_whitespace(&code);
        let found: Vec<&str> = EXPRESSION_MARKERS
            .iter()
            .copied()
            .filter(|m| compact.contains(&without_whitespace(m)))
            .collect();
        if !found.is_empty() {
            outside.insert(file, found);
        }
    }
    assert!(
        outside.is_empty(),
        "store expressions outside a repo.rs: {outside:?}"
    );
}
