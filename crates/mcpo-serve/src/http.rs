//! Streamable HTTP for `mcpoc serve --http`: rmcp's `StreamableHttpService` at `/mcp`,
//! served by hyper, behind two checks that make it safe on a developer's machine:
//!
//! - every request must carry `Authorization: Bearer <token>` (401 otherwise);
//! - the `Host` (and `Origin`, when sent) must name this machine's loopback address or the
//!   address it listens on (403 otherwise), so a web page cannot drive it through DNS
//!   rebinding.

use crate::server::{McpoServer, Shared};
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

/// Whether `token` matches `expected`, in time that does not depend on where they differ.
fn same_token(token: &[u8], expected: &[u8]) -> bool {
    token.len() == expected.len()
        && token
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The host part of a `Host` header or of an `Origin` URL's authority.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

/// Whether a request's `Host` and `Origin` name this server.
fn local_names_only(parts: &http::request::Parts, allowed: &[String]) -> bool {
    let ok = |host: &str| allowed.iter().any(|a| a.eq_ignore_ascii_case(host));
    let Some(host) = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    if !ok(host_of(host)) {
        return false;
    }
    match parts.headers.get(http::header::ORIGIN).map(|o| o.to_str()) {
        None => true,
        Some(Ok(origin)) => {
            let authority = origin
                .split_once("://")
                .map_or(origin, |(_, rest)| rest)
                .split('/')
                .next()
                .unwrap_or("");
            ok(host_of(authority))
        }
        Some(Err(_)) => false,
    }
}

fn refuse(status: StatusCode, message: &str) -> Response<BoxBody<Bytes, Infallible>> {
    let body = Full::new(Bytes::from(format!("{message}\n"))).boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"mcpo\""),
        );
    }
    response
}

/// Serves on `listener` until the process is stopped.
pub async fn serve(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
    token: String,
) -> Result<(), String> {
    let local: SocketAddr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let mut allowed = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if !local.ip().is_unspecified() {
        allowed.push(local.ip().to_string());
    }
    // The service's own Host check is kept too (same names).
    let config = StreamableHttpServerConfig::default().with_allowed_hosts(allowed.clone());
    let service: StreamableHttpService<McpoServer, LocalSessionManager> =
        StreamableHttpService::new(
            move || Ok(McpoServer::new(Arc::clone(&shared))),
            Arc::default(),
            config,
        );
    let expected = Arc::new(format!("Bearer {token}"));
    let allowed = Arc::new(allowed);
    eprintln!("mcpo serve: serving MCP (streamable HTTP) at http://{local}/mcp");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("mcpo serve: accept failed: {e}");
                continue;
            }
        };
        let service = service.clone();
        let expected = Arc::clone(&expected);
        let allowed = Arc::clone(&allowed);
        tokio::spawn(async move {
            let handler = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let service = service.clone();
                let expected = Arc::clone(&expected);
                let allowed = Arc::clone(&allowed);
                async move {
                    let (parts, body) = request.into_parts();
                    if !local_names_only(&parts, &allowed) {
                        return Ok::<_, Infallible>(refuse(
                            StatusCode::FORBIDDEN,
                            "forbidden: the Host or Origin of this request does not name this machine",
                        ));
                    }
                    let authorized = parts
                        .headers
                        .get(http::header::AUTHORIZATION)
                        .is_some_and(|v| same_token(v.as_bytes(), expected.as_bytes()));
                    if !authorized {
                        return Ok(refuse(
                            StatusCode::UNAUTHORIZED,
                            "unauthorized: send `Authorization: Bearer <token>` (the token is in .mcpo/serve/token, or MCPO_SERVE_TOKEN)",
                        ));
                    }
                    Ok(service
                        .handle(hyper::Request::from_parts(parts, body))
                        .await)
                }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler)
                .await
            {
                eprintln!("mcpo serve: HTTP connection ended with an error: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(host: Option<&str>, origin: Option<&str>) -> http::request::Parts {
        let mut b = http::Request::builder().uri("/mcp");
        if let Some(h) = host {
            b = b.header("host", h);
        }
        if let Some(o) = origin {
            b = b.header("origin", o);
        }
        b.body(())
            .map(|r| r.into_parts().0)
            .unwrap_or_else(|_| http::Request::new(()).into_parts().0)
    }

    #[test]
    fn only_local_hosts_and_origins_pass() {
        let allowed = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        assert!(local_names_only(
            &parts(Some("127.0.0.1:8940"), None),
            &allowed
        ));
        assert!(local_names_only(
            &parts(Some("localhost:8940"), Some("http://localhost:3000")),
            &allowed
        ));
        assert!(local_names_only(&parts(Some("[::1]:8940"), None), &allowed));
        assert!(!local_names_only(
            &parts(Some("evil.example:8940"), None),
            &allowed
        ));
        assert!(!local_names_only(
            &parts(Some("127.0.0.1:8940"), Some("https://evil.example")),
            &allowed
        ));
        assert!(!local_names_only(&parts(None, None), &allowed));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"Bearer abc", b"Bearer abc"));
        assert!(!same_token(b"Bearer abd", b"Bearer abc"));
        assert!(!same_token(b"Bearer ab", b"Bearer abc"));
    }
}
