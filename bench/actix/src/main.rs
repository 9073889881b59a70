//! The Actix-web peer of ducta's benchmark: /plaintext, /json and the files
//! under DOCROOT at /static/, written the way the Actix-web documentation
//! shows (handlers with route macros, `web::Json`, `actix_files::Files`),
//! with one worker thread. No tuning beyond that: no custom allocator, no
//! pre-built responses, default release profile.
//!
//! usage: ducta-bench-actix PORT DOCROOT

use actix_web::{get, web, App, HttpResponse, HttpServer, Responder};
use serde::Serialize;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[get("/plaintext")]
async fn plaintext() -> impl Responder {
    HttpResponse::Ok().content_type("text/plain").body("Hello, World!")
}

#[get("/json")]
async fn json() -> impl Responder {
    web::Json(Message { message: "Hello, World!" })
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: {} PORT DOCROOT", args[0]);
        std::process::exit(2);
    }
    let port: u16 = args[1].parse().expect("PORT must be a number");
    let static_dir = format!("{}/static", args[2]);
    HttpServer::new(move || {
        App::new()
            .service(plaintext)
            .service(json)
            .service(actix_files::Files::new("/static", static_dir.clone()))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
