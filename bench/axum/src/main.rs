//! The Axum peer of ducta's benchmark: /plaintext, /json and the files under
//! DOCROOT at /static/, written the way the Axum documentation shows
//! (`Router` with `get` handlers, `Json`, tower-http's `ServeDir`), on
//! tokio's single-threaded runtime. No tuning beyond that: no custom
//! allocator, no pre-built responses, default release profile.
//!
//! usage: ducta-bench-axum PORT DOCROOT

use axum::{routing::get, Json, Router};
use serde::Serialize;
use tower_http::services::ServeDir;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

async fn plaintext() -> &'static str {
    "Hello, World!"
}

async fn json() -> Json<Message> {
    Json(Message { message: "Hello, World!" })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: {} PORT DOCROOT", args[0]);
        std::process::exit(2);
    }
    let port: u16 = args[1].parse().expect("PORT must be a number");
    let app = Router::new()
        .route("/plaintext", get(plaintext))
        .route("/json", get(json))
        .nest_service("/static", ServeDir::new(format!("{}/static", args[2])));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
