//! The OpenAPI description of the admin API against the router it describes: every route the
//! router serves (path and method) is an operation of `/openapi.json` and every operation there
//! is served; `/openapi.json` and `/grafana.json` answer only with a token; every operation
//! lists the 401 of the token layer and answers its errors with the documented body.

use std::collections::{BTreeMap, BTreeSet};

use crate::admin_support::{self, Server, ANA};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Path → methods the router serves, read from axum's `Debug` of the router: axum has no API
/// that lists routes, and its `Debug` prints the path table (`RouteId(n): "/path"`) and each
/// route's `Allow` header (`allow_header: Bytes(b"GET,HEAD")`). A route without one (a nested
/// service) is listed with the method `ANY`. Only the main path table is read; the fallback's is
/// not a route. Panics, rather than finding nothing, if that shape changes.
fn served(router: &axum::Router) -> BTreeMap<String, BTreeSet<String>> {
    let text = format!("{router:?}");
    let main = text
        .split("fallback_router")
        .next()
        .expect("split yields one part");
    let (routes, table) = main
        .split_once("node: Node { paths: {")
        .expect("axum's Debug of Router no longer shows its path table: update served()");
    let mut methods = BTreeMap::new();
    for chunk in routes.split("RouteId(").skip(1) {
        let (id, rest) = chunk.split_once(')').expect("RouteId(n)");
        let allowed = match rest.split_once("allow_header: Bytes(b\"") {
            Some((_, after)) => after.split('"').next().unwrap_or_default().to_string(),
            None => "ANY".to_string(),
        };
        let mut set: BTreeSet<String> = allowed.split(',').map(str::to_string).collect();
        // axum answers HEAD on every GET route by itself.
        if set.contains("GET") {
            set.remove("HEAD");
        }
        methods.insert(id.to_string(), set);
    }
    let mut out = BTreeMap::new();
    for chunk in table.split("RouteId(").skip(1) {
        let (id, rest) = chunk.split_once(')').expect("RouteId(n)");
        let path = rest.split('"').nth(1).expect("a quoted path");
        let m = methods.get(id).cloned().expect("a route for each path");
        out.insert(path.to_string(), m);
    }
    assert!(
        out.len() >= 10,
        "read only {out:?} from the router's Debug: update served()"
    );
    out
}

/// Path → methods of the document.
fn described(spec: &Value) -> BTreeMap<String, BTreeSet<String>> {
    spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .expect("path item")
                .keys()
                .filter(|k| !matches!(k.as_str(), "parameters" | "summary" | "description"))
                .map(|k| k.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

fn spec_json() -> Value {
    serde_json::to_value(outdial::admin::openapi()).expect("document serializes")
}

#[test]
fn every_route_the_router_serves_is_described_and_nothing_else() {
    let router = outdial::admin::router(admin_support::FakeEngine::new(), admin_support::tokens());
    let served = served(&router);
    let described = described(&spec_json());
    assert_eq!(
        served, described,
        "the router (left) and /openapi.json (right) differ"
    );
}

/// The comparison above would pass on a parse that finds nothing: a route added past
/// `routes!` (a plain axum `.route`) must show up in what [`served`] reads.
#[test]
fn a_route_added_without_its_description_is_seen() {
    let router = outdial::admin::router(admin_support::FakeEngine::new(), admin_support::tokens())
        .route("/undocumented", axum::routing::delete(|| async { "" }));
    let served = served(&router);
    assert_eq!(
        served.get("/undocumented"),
        Some(&BTreeSet::from(["DELETE".to_string()]))
    );
    assert_eq!(
        served.get("/campaigns/{name}/pacing"),
        Some(&BTreeSet::from(["PATCH".to_string(), "POST".to_string()]))
    );
    assert_ne!(served, described(&spec_json()));
}

#[test]
fn every_operation_lists_the_token_refusal_and_its_errors_with_the_error_body() {
    let spec = spec_json();
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(spec["security"][0]["bearer"], Value::Array(vec![]));
    let mut ids = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_string()), "operationId {id} twice");
            let responses = op["responses"].as_object().expect("responses");
            assert!(responses.contains_key("200"), "{method} {path}: no 200");
            for (status, r) in responses {
                // 416 (a recording's range outside the file) says it in `Content-Range`.
                if status.starts_with('2') || status == "416" {
                    continue;
                }
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
            for s in ["401", "403"] {
                assert!(responses.contains_key(s), "{method} {path}: no {s}");
            }
            // A parameter can be malformed (400); a path one can name nothing (404).
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            if !params.is_empty() {
                assert!(responses.contains_key("400"), "{method} {path}: no 400");
            }
            if params.iter().any(|p| p["in"] == "path") {
                assert!(responses.contains_key("404"), "{method} {path}: no 404");
            }
            if op.get("requestBody").is_some() {
                for s in ["400", "413"] {
                    assert!(responses.contains_key(s), "{method} {path}: no {s}");
                }
            }
        }
    }
}

/// Sends `method url` with `auth`; returns the status and the body as JSON (or a string).
async fn send(method: Method, url: &str, auth: Option<&str>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.expect("answer");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The concrete path of a templated one, on the fake engine's campaign and agent.
fn concrete(path: &str) -> String {
    path.replace("{name}", "credit-verification")
        .replace("{id}", "a1")
        .replace("{attempt}", "1")
}

#[tokio::test]
async fn the_document_is_served_behind_the_token_and_describes_routes_that_answer() {
    let srv = Server::start().await;
    let bearer = format!("Bearer {ANA}");
    for path in ["/openapi.json", "/grafana.json"] {
        let (status, _) = send(Method::GET, &format!("{}{path}", srv.url), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} without a token");
    }
    let (status, served) = send(
        Method::GET,
        &format!("{}/openapi.json", srv.url),
        Some(&bearer),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served, spec_json(), "/openapi.json is not admin::openapi()");
    let (status, dashboard) = send(
        Method::GET,
        &format!("{}/grafana.json", srv.url),
        Some(&bearer),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(dashboard["panels"].is_array(), "{dashboard}");
    // Every described operation reaches its handler (no "no such route", no 405), and every
    // method the document does not give a path is refused with 405.
    let all = [
        Method::GET,
        Method::POST,
        Method::PATCH,
        Method::PUT,
        Method::DELETE,
    ];
    for (path, methods) in described(&served) {
        let url = format!("{}{}", srv.url, concrete(&path));
        for m in &all {
            let (status, body) = send(m.clone(), &url, Some(&bearer)).await;
            if methods.contains(m.as_str()) {
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
                assert_ne!(body["error"], "no such route", "{m} {path}");
            } else {
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
            }
        }
    }
    srv.stop().await;
}

#[test]
fn the_documented_ranges_are_the_ones_the_router_enforces() {
    use outdial::campaign::def::{MAX_ABANDON_CAP, MAX_RATIO, MIN_TARGET_ABANDON};
    let spec = spec_json();
    let fields = &spec["components"]["schemas"]["PacingRequest"]["properties"];
    for (field, min, max) in [
        ("ratio", 1.0, MAX_RATIO),
        ("max_ratio", 1.0, MAX_RATIO),
        ("target_abandon", MIN_TARGET_ABANDON, MAX_ABANDON_CAP),
    ] {
        assert_eq!(fields[field]["minimum"].as_f64(), Some(min), "{field}");
        assert_eq!(fields[field]["maximum"].as_f64(), Some(max), "{field}");
    }
    assert_eq!(
        spec["components"]["schemas"]["PacingRequest"]["additionalProperties"],
        false
    );
}

/// Statuses axum itself gives (a path segment that is not UTF-8, a body over the limit) used to
/// answer in plain text; they answer with the documented JSON error body like every other.
#[tokio::test]
async fn malformed_paths_and_oversized_bodies_get_the_json_error_body() {
    let srv = Server::start().await;
    let bearer = format!("Bearer {ANA}");
    let big = format!(r#"{{"reason": "{}"}}"#, "x".repeat(70 * 1024));
    let cases = [
        (
            Method::GET,
            "/campaigns/%FF",
            None,
            StatusCode::BAD_REQUEST,
            "UTF-8",
        ),
        (
            Method::POST,
            "/agents/a%C3/login",
            None,
            StatusCode::BAD_REQUEST,
            "UTF-8",
        ),
        (
            Method::POST,
            "/agents/a1/pause",
            Some(big),
            StatusCode::PAYLOAD_TOO_LARGE,
            "length limit",
        ),
        (
            Method::POST,
            "/agents/a1/pause",
            Some(r#"{"reason": "M\u009et"}"#.to_string()),
            StatusCode::BAD_REQUEST,
            "control characters",
        ),
    ];
    for (method, path, body, status, says) in cases {
        let mut req = reqwest::Client::new()
            .request(method.clone(), format!("{}{path}", srv.url))
            .header("authorization", &bearer);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.expect("answer");
        assert_eq!(resp.status(), status, "{method} {path}");
        assert_eq!(
            resp.headers()["content-type"],
            "application/json",
            "{method} {path}"
        );
        let err: Value = resp.json().await.expect("JSON");
        let msg = err["error"].as_str().unwrap_or_default();
        assert!(msg.contains(says), "{method} {path}: {msg}");
    }
    assert_eq!(
        srv.engine.lock().agents["a1"].state,
        outdial::admin::AgentState::Ready,
        "a refused pause changed the agent"
    );
    srv.stop().await;
}
