//! Streamable HTTP: rmcp's `StreamableHttpService` served by hyper at `/mcp`.

use crate::server::{Shared, Twin};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::convert::Infallible;
use std::sync::Arc;

/// Serves the twin on `addr` until the process is stopped.
pub(crate) async fn serve(shared: Arc<Shared>, addr: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| anyhow::anyhow!("cannot read the listening address: {e}"))?;
    let mut config = StreamableHttpServerConfig::default().with_allowed_hosts([
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
        local.ip().to_string(),
    ]);
    if local.ip().is_unspecified() {
        // Bound to every interface (e.g. inside a container): clients arrive under names
        // the twin cannot know, so the DNS-rebinding Host check would refuse them all.
        eprintln!("mcpo twin: listening on all interfaces; Host header checks are off");
        config = config.disable_allowed_hosts();
    }
    let service: StreamableHttpService<Twin, LocalSessionManager> = StreamableHttpService::new(
        move || Ok(Twin::new(Arc::clone(&shared))),
        Arc::default(),
        config,
    );
    eprintln!("mcpo twin: serving MCP (streamable HTTP) at http://{local}/mcp");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("mcpo twin: accept failed: {e}");
                continue;
            }
        };
        let service = service.clone();
        tokio::spawn(async move {
            let handler = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let service = service.clone();
                async move { Ok::<_, Infallible>(service.handle(request).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler)
                .await
            {
                eprintln!("mcpo twin: HTTP connection ended with an error: {e}");
            }
        });
    }
}
