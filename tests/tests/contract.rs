//! One source of truth: the routes in template.yaml must be exactly those of the local
//! router (the stack's API Gateway reads the template itself; `cargo lambda watch`'s own
//! router in Cargo.toml serves the bench), the OpenAPI document, the fallback's route table,
//! the function crates and the sample events.

use linkgate::route::path_fits;
use linkgate_tests::{openapi, root, template, template_routes, Route};
use std::collections::{BTreeMap, BTreeSet};

fn router_routes() -> Vec<Route> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let manifest: toml::Value = toml::from_str(&text).unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("[workspace.metadata.lambda.watch.router] exists");
    let mut out = Vec::new();
    for (path, entries) in router {
        for entry in entries
            .as_array()
            .expect("each path maps to a list of {method, function}")
        {
            out.push(Route {
                method: entry["method"].as_str().unwrap().to_uppercase(),
                path: path.clone(),
                function: entry["function"].as_str().unwrap().to_owned(),
            });
        }
    }
    out.sort();
    out
}

/// The functions: one binary each, `functions/src/bin/<name>.rs`.
fn function_binaries() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions/src/bin"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_suffix(".rs")
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn template_has_routes() {
    assert!(
        template_routes().len() >= 6,
        "template lists too few routes"
    );
}

/// Routes with a path and method: all but the `$default` route.
fn routed() -> Vec<Route> {
    template_routes()
        .into_iter()
        .filter(|r| !r.is_default())
        .collect()
}

#[test]
fn cargo_lambda_router_matches_template() {
    assert_eq!(router_routes(), routed());
}

#[test]
fn the_api_has_one_default_route_and_the_fallback_knows_every_other() {
    let defaults: Vec<Route> = template_routes()
        .into_iter()
        .filter(Route::is_default)
        .collect();
    assert_eq!(defaults.len(), 1, "{defaults:?}");
    assert_eq!(defaults[0].function, "route-fallback");
    let known: BTreeSet<(String, String)> = linkgate::route::METHODS_AND_PATHS
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let served: BTreeSet<(String, String)> = linkgate::route::ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let deployed: BTreeSet<(String, String)> =
        routed().into_iter().map(|r| (r.method, r.path)).collect();
    assert_eq!(known, deployed);
    assert_eq!(served, deployed);
}

#[test]
fn openapi_paths_match_template() {
    let doc = openapi();
    assert_eq!(
        doc["openapi"].as_str().map(|v| v.starts_with("3.1")),
        Some(true)
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().expect("paths") {
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if ["get", "put", "post", "patch", "delete", "head", "options"].contains(&method) {
                documented.insert((method.to_uppercase(), path.as_str().unwrap().to_owned()));
            }
        }
    }
    let deployed: BTreeSet<_> = routed()
        .into_iter()
        .filter(|r| !r.path.starts_with("/compat/"))
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(documented, deployed);
}

/// Each dialect's routes, `/compat/<name>/…`, are those of its own document
/// (`compat/<name>.openapi.yaml`, whose server URL ends in `/compat/<name>`), and every
/// dialect route has one.
#[test]
fn each_dialect_document_matches_its_routes_in_the_template() {
    let mut documented = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("compat")).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".openapi.yaml"))
        else {
            continue;
        };
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let prefix = format!("/compat/{name}");
        let server = doc["servers"][0]["url"].as_str().unwrap();
        assert!(
            server.ends_with(&prefix),
            "{}: server {server}",
            path.display()
        );
        for (p, item) in doc["paths"].as_mapping().expect("paths") {
            for (method, _) in item.as_mapping().unwrap() {
                let method = method.as_str().unwrap();
                if ["get", "put", "post", "patch", "delete"].contains(&method) {
                    documented.insert((
                        method.to_uppercase(),
                        format!("{prefix}{}", p.as_str().unwrap()),
                    ));
                }
            }
        }
    }
    let deployed: BTreeSet<_> = routed()
        .into_iter()
        .filter(|r| r.path.starts_with("/compat/"))
        .map(|r| (r.method, r.path))
        .collect();
    assert!(!deployed.is_empty());
    assert_eq!(documented, deployed);
}

/// A function serving several routes names each by its route key in its `main.rs`
/// (`run::http_routes`), and those keys are exactly its routes in the template; one serving
/// a single route runs it with `run::http`.
#[test]
fn every_function_dispatches_exactly_the_routes_the_template_sends_it() {
    let routes = template_routes();
    for function in function_binaries() {
        let text = std::fs::read_to_string(root().join(format!("functions/src/bin/{function}.rs")))
            .unwrap();
        let mine: BTreeSet<String> = routes
            .iter()
            .filter(|r| r.function == function && !r.is_default())
            .map(Route::key)
            .collect();
        if text.contains("run::http_routes(") {
            // The string literals that are route keys: `"POST /v1/credentials"`.
            let named: BTreeSet<String> = text
                .split('"')
                .skip(1)
                .step_by(2)
                .filter(|lit| {
                    lit.split_once(" /").is_some_and(|(method, _)| {
                        ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method)
                    })
                })
                .map(String::from)
                .collect();
            assert_eq!(named, mine, "{function}");
            assert!(mine.len() > 1, "{function}: one route runs with run::http");
        } else if text.contains("run::http(") {
            assert!(
                mine.len() <= 1,
                "{function} serves {mine:?}: name each in run::http_routes"
            );
        } else {
            assert!(
                mine.is_empty(),
                "{function} serves {mine:?} but runs no HTTP loop"
            );
        }
    }
}

#[test]
fn every_function_binary_is_deployed_and_every_deployed_binary_exists() {
    let t = template();
    let mut binaries = BTreeSet::new();
    for (name, res) in t["Resources"].as_mapping().unwrap() {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        assert_eq!(
            res["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{name:?}"
        );
        assert!(
            matches!(
                res["Properties"]["LoggingConfig"]["LogGroup"],
                serde_yaml::Value::Tagged(_)
            ),
            "{name:?} has no explicit log group"
        );
        binaries.insert(
            res["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(binaries, function_binaries());
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    assert_eq!(globals["Tracing"].as_str(), Some("Active"));
}

/// Below 1,769 MB a function has less than one vCPU, so tokio's worker threads only add
/// cross-thread wake-ups: the bench measured ~0.45 ms per warm invocation saved by a
/// single-threaded runtime (bench/README.md).
#[test]
fn every_function_runs_a_single_threaded_runtime_on_a_fraction_of_a_vcpu() {
    let t = template();
    let memory = t["Globals"]["Function"]["MemorySize"]
        .as_u64()
        .expect("a global MemorySize");
    assert!(
        memory < 1769,
        "{memory} MB gives a function more than one vCPU"
    );
    for (name, res) in t["Resources"].as_mapping().unwrap() {
        if let Some(own) = res["Properties"]["MemorySize"].as_u64() {
            assert!(own < 1769, "{name:?}: {own} MB gives it more than one vCPU");
        }
    }
    for function in function_binaries() {
        let main = root().join(format!("functions/src/bin/{function}.rs"));
        let text = std::fs::read_to_string(&main).unwrap();
        assert!(
            text.contains(r#"#[tokio::main(flavor = "current_thread")]"#),
            "{function}: its main should use #[tokio::main(flavor = \"current_thread\")]"
        );
    }
}

#[test]
fn read_only_routes_get_read_only_table_access() {
    let t = template();
    let read_actions = [
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
        // Opening a seal changes nothing: it is how an access token is checked.
        "kms:Decrypt",
    ];
    let mut methods: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in template_routes() {
        methods.entry(r.function).or_default().insert(r.method);
    }
    for (_, res) in t["Resources"].as_mapping().unwrap() {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = res["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        // GETs that write: opening a link (opened_at, link.opened), reading credentials (every
        // read is audited; an expiring token is refreshed), and the browser's OAuth round
        // trip (state issued, then consumed with the activation), and opening a portal link
        // (spent for a session), and the console's pages (a sign-in link spent for a session,
        // a session's last use).
        let records_on_read = [
            "console-page",
            "connect-page",
            "connections-credentials",
            "connect-oauth",
            "oauth-callback",
            "portal-page",
        ];
        let read_only = !records_on_read.contains(&binary)
            && methods
                .get(binary)
                .is_some_and(|m| m.iter().all(|m| m == "GET"));
        let policies = res["Properties"]["Policies"]
            .as_sequence()
            .cloned()
            .unwrap_or_default();
        for policy in policies {
            let statements = policy["Statement"]
                .as_sequence()
                .cloned()
                .unwrap_or_default();
            assert!(
                !statements.is_empty(),
                "{binary}: use explicit statements, not managed policy templates"
            );
            for st in statements {
                for action in st["Action"].as_sequence().unwrap() {
                    let action = action.as_str().unwrap();
                    assert!(!action.contains('*'), "{binary}: wildcard action {action}");
                    if read_only {
                        assert!(
                            read_actions.contains(&action),
                            "{binary} is read-only but may {action}"
                        );
                    }
                }
            }
        }
    }
}

/// Every function and the kinds of its non-HTTP triggers (`DynamoDB`, `SQS`…).
fn function_triggers() -> BTreeMap<String, BTreeSet<String>> {
    let t = template();
    let mut out = BTreeMap::new();
    for (_, res) in t["Resources"].as_mapping().unwrap() {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = res["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap()
            .to_owned();
        let kinds: BTreeSet<String> = res["Properties"]["Events"]
            .as_mapping()
            .map(|m| {
                m.values()
                    .filter_map(|e| e["Type"].as_str())
                    .filter(|k| *k != "HttpApi")
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        out.insert(binary, kinds);
    }
    out
}

#[test]
fn every_function_has_sample_events_that_match_its_trigger() {
    let routes = template_routes();
    let triggers = function_triggers();
    let mut covered = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("events")).unwrap() {
        let path = entry.unwrap().path();
        let event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let function = triggers
            .keys()
            .filter(|f| stem == **f || stem.starts_with(&format!("{f}.")))
            .max_by_key(|f| f.len())
            .unwrap_or_else(|| panic!("{} names no deployed function", path.display()))
            .clone();
        if event["routeKey"].as_str() == Some(linkgate_tests::DEFAULT_ROUTE) {
            assert!(
                routes
                    .iter()
                    .any(|r| r.function == function && r.is_default()),
                "{}: {function} is not the $default route",
                path.display()
            );
            // A sample for the fallback must be a request no other route takes.
            let method = event["requestContext"]["http"]["method"].as_str().unwrap();
            let raw_path = event["rawPath"].as_str().unwrap();
            assert!(
                !routes
                    .iter()
                    .any(|r| !r.is_default() && r.method == method && path_fits(&r.path, raw_path)),
                "{}: {method} {raw_path} has a route",
                path.display()
            );
        } else if let Some(route_key) = event["routeKey"].as_str() {
            let route = routes
                .iter()
                .find(|r| r.function == function && r.key() == route_key)
                .unwrap_or_else(|| {
                    panic!(
                        "{}: routeKey {route_key} is not a route of {function}",
                        path.display()
                    )
                });
            assert_eq!(event["version"], "2.0");
            assert_eq!(
                event["requestContext"]["http"]["method"].as_str(),
                Some(route.method.as_str())
            );
            let raw_path = event["rawPath"].as_str().unwrap();
            assert!(
                path_fits(&route.path, raw_path),
                "{raw_path} does not fit {}",
                route.path
            );
            let expected_params: BTreeSet<String> = route
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(String::from)
                .collect();
            let params: BTreeSet<String> = event["pathParameters"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            assert_eq!(params, expected_params, "{}", path.display());
        } else if event["source"] == "aws.scheduler" {
            assert_eq!(event["detail-type"], "Scheduled Event");
            assert!(
                triggers[&function].contains("ScheduleV2"),
                "{function} is not triggered by a schedule"
            );
        } else if event.get("detail-type").is_some() {
            assert_eq!(event["source"], "linkgate", "{}", path.display());
            assert_eq!(event["detail-type"], event["detail"]["type"]);
            assert!(
                triggers[&function].contains("EventBridgeRule"),
                "{function} is not triggered by an EventBridge rule"
            );
        } else {
            let records = event["Records"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: neither HTTP nor records", path.display()));
            assert!(!records.is_empty());
            let source = records[0]["eventSource"].as_str().unwrap();
            let kind = match source {
                "aws:dynamodb" => "DynamoDB",
                "aws:sqs" => "SQS",
                other => panic!("{}: unknown event source {other}", path.display()),
            };
            assert!(
                triggers[&function].contains(kind),
                "{function} is not triggered by {kind}"
            );
        }
        covered.insert(function);
    }
    let all: BTreeSet<String> = triggers.into_keys().collect();
    assert_eq!(covered, all, "functions without a sample event");
}

#[test]
fn path_matching_helper_is_strict() {
    assert!(path_fits("/v1/consumers/{id}", "/v1/consumers/csm_1"));
    assert!(!path_fits("/v1/consumers/{id}", "/v1/consumers"));
    assert!(!path_fits("/v1/consumers/{id}", "/v1/consumers/"));
    assert!(!path_fits("/v1/consumers", "/v1/consumer"));
}

#[test]
fn the_documented_provider_ids_are_the_catalog() {
    let doc = openapi();
    let documented: BTreeSet<String> = doc["components"]["schemas"]["ProviderId"]["enum"]
        .as_sequence()
        .expect("ProviderId has an enum")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let catalog: BTreeSet<String> = linkgate::provider::catalog()
        .unwrap()
        .ids()
        .map(str::to_owned)
        .collect();
    assert_eq!(documented, catalog);
}

#[test]
fn the_documented_event_types_are_the_ones_endpoints_may_subscribe_to() {
    let doc = openapi();
    let documented: BTreeSet<String> = doc["components"]["schemas"]["WebhookEventType"]["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let aliases: Vec<&str> = linkgate::webhook::EVENT_ALIASES
        .iter()
        .map(|(alias, _)| *alias)
        .collect();
    let known: BTreeSet<String> = linkgate::webhook::EVENT_TYPES
        .iter()
        .chain(&["*"])
        .chain(&aliases)
        .map(|t| t.to_string())
        .collect();
    assert_eq!(documented, known);
    let max = doc["components"]["schemas"]["WebhookEvents"]["maxItems"].as_u64();
    assert_eq!(max, Some(linkgate::webhook::EVENT_TYPES.len() as u64));
}

/// The stream filter that lets a third refused submission through to the relay matches
/// `failed_attempts` exactly (stream numbers are strings: no numeric filter applies), so it
/// must name the count the relay announces at.
#[test]
fn the_relay_filter_for_link_failed_names_the_count_the_relay_announces_at() {
    let t = template();
    let filters = t["Resources"]["EventRelayFunction"]["Properties"]["Events"]["Stream"]
        ["Properties"]["FilterCriteria"]["Filters"]
        .as_sequence()
        .expect("the relay's stream is filtered");
    let patterns: Vec<serde_json::Value> = filters
        .iter()
        .map(|f| serde_json::from_str(f["Pattern"].as_str().unwrap()).unwrap())
        .collect();
    let count = linkgate::link::FAILED_AFTER.to_string();
    let failed: Vec<_> = patterns
        .iter()
        .filter(|p| !p["dynamodb"]["NewImage"]["failed_attempts"].is_null())
        .collect();
    assert_eq!(failed.len(), 1, "one filter for link.failed: {patterns:?}");
    assert_eq!(
        failed[0]["dynamodb"]["NewImage"]["failed_attempts"]["N"],
        serde_json::json!([count]),
    );
    assert_eq!(
        failed[0]["dynamodb"]["OldImage"]["failed_attempts"]["N"],
        serde_json::json!([{"anything-but": [count]}]),
    );
}

/// Versions with known advisories stay out of the lockfile (no advisory database can be
/// fetched here: the ones we have been told of are listed).
#[test]
fn no_locked_crate_has_a_known_advisory() {
    const FIXED_IN: &[(&str, (u64, u64), &str)] = &[(
        "quick-xml",
        (0, 41),
        "RUSTSEC-2026-0194: quadratic duplicate-attribute check, reachable through an SVG logo",
    )];
    let lock: toml::Value =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.lock")).unwrap()).unwrap();
    for package in lock["package"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        for (crate_name, (major, minor), advisory) in FIXED_IN {
            if name != *crate_name {
                continue;
            }
            let version: Vec<u64> = package["version"]
                .as_str()
                .unwrap()
                .split('.')
                .take(2)
                .map(|n| n.parse().unwrap())
                .collect();
            assert!(
                (version[0], version[1]) >= (*major, *minor),
                "{name} {} is locked: {advisory}",
                package["version"]
            );
        }
    }
}

/// A function that refreshes OAuth tokens has time for the slowest refresh at the default
/// token timeout, with room for its own work: with less, it would only ever serve what is
/// stored (it never starts a refresh it could not finish).
#[test]
fn functions_that_refresh_tokens_outlast_the_slowest_refresh() {
    let t = template();
    let worst = linkgate::connection::refresh::worst_case(std::time::Duration::from_secs(
        linkgate::config::DEFAULT_OAUTH_TIMEOUT_SECONDS,
    ));
    for logical in ["ConnectionsCredentialsFunction", "TokenRefresherFunction"] {
        let timeout = t["Resources"][logical]["Properties"]["Timeout"]
            .as_u64()
            .unwrap_or_else(|| panic!("{logical} sets its Timeout"));
        assert!(
            std::time::Duration::from_secs(timeout) >= worst + std::time::Duration::from_secs(5),
            "{logical}: Timeout {timeout} s, a refresh can take {worst:?}"
        );
    }
}
