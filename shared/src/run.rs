//! How a function runs: logging set up, the [`App`] built once per process (and leaked on
//! purpose: it lives as long as the process), then every invocation served by the handler
//! the function's `main.rs` names. One loop per kind of trigger.

use crate::app::EventHandler;
use crate::error::ApiError;
use crate::http::Route;
use crate::App;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use std::future::Future;

async fn app() -> Result<&'static App, crate::config::ConfigError> {
    crate::telemetry::init();
    Ok(Box::leak(Box::new(App::from_env().await?)))
}

/// Runs one HTTP function: `route` serves every request.
pub async fn http(route: &'static Route) -> Result<(), lambda_http::Error> {
    let app = app().await?;
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        crate::http::serve(app, req, route)
    }))
    .await
}

/// Runs one HTTP function that serves several routes (an operation in our dialect and in
/// others, see `dialect`): each request goes to the route its `routeKey` names, given here as
/// API Gateway spells it (`POST /v1/credentials`); a contract test holds the keys equal to the
/// function's routes in template.yaml.
pub async fn http_routes(
    routes: &'static [(&'static str, &'static Route)],
) -> Result<(), lambda_http::Error> {
    let app = app().await?;
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        let route = route_of(&req, routes);
        crate::http::serve(app, req, route)
    }))
    .await
}

/// The route `req` came in by; a request with no route key (invoked directly) takes the
/// first, and one whose key is not among them (a template that sends this function a route
/// it does not serve) gets a 404 rather than another route's answer.
fn route_of(req: &Request, routes: &'static [(&'static str, &'static Route)]) -> &'static Route {
    let key = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.as_deref(),
        _ => None,
    };
    match key {
        None => routes.first().map_or(&MISROUTED, |(_, r)| *r),
        Some(key) => routes
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(&MISROUTED, |(_, r)| *r),
    }
}

const MISROUTED: Route = Route {
    operation: "misrouted",
    access: crate::http::Access::Public,
    handler: |_, _| Box::pin(async { Err(ApiError::NotFound("no route for this path".into())) }),
};

/// Runs one event-driven function (an SQS source, an EventBridge rule target): `handle`
/// answers each event. An error fails the invocation, so the source retries it (or sends it
/// to its dead-letter queue).
pub async fn event(handle: EventHandler) -> Result<(), lambda_runtime::Error> {
    let app = app().await?;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            Ok::<_, lambda_runtime::Error>(handle(app, &event.payload).await?)
        },
    ))
    .await
}

/// Runs a scheduled function (EventBridge Scheduler): the event says nothing it needs, and
/// the answer is the run's counts. `run` gets the invocation's deadline.
pub async fn scheduled<F, Fut>(run: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(&'static App, std::time::SystemTime) -> Fut,
    Fut: Future<Output = Result<serde_json::Value, ApiError>> + Send + 'static,
{
    let app = app().await?;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let done = run(app, event.context.deadline());
            async move { Ok::<_, lambda_runtime::Error>(done.await?) }
        },
    ))
    .await
}
