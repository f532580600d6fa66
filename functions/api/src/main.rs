//! The tenant API: HTTP API events → `Api::handle`. See `lib.rs` for the routes.

use lambda_http::{run, service_fn, Body, Error, Request, RequestExt, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pregon_aws::init_logging();
    let aws = pregon_aws::config::Aws::from_env().await?;
    let api = &pregon_api::Api::new(aws);
    run(service_fn(move |req: Request| async move {
        let query: Vec<(String, String)> = req
            .query_string_parameters()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let path = req.raw_http_path().to_string();
        let reply = api
            .handle(
                req.method().as_str(),
                &path,
                &query,
                auth.as_deref(),
                req.body().as_ref(),
            )
            .await;
        let response = match reply.file {
            Some(f) => Response::builder()
                .status(reply.status)
                .header("content-type", f.content_type)
                .header(
                    "content-disposition",
                    format!("attachment; filename=\"{}\"", f.filename),
                )
                .body(Body::Binary(f.bytes))?,
            // 204: no body at all.
            None if reply.status == 204 => {
                Response::builder().status(reply.status).body(Body::Empty)?
            }
            None => {
                let mut b = Response::builder()
                    .status(reply.status)
                    .header("content-type", "application/json");
                if let Some(allow) = &reply.allow {
                    b = b.header("allow", allow);
                }
                b.body(Body::Text(reply.body.to_string()))?
            }
        };
        Ok::<_, Error>(response)
    }))
    .await
}
