//! A real HTTP/1.1 client for the JSON API (hyper's), and a reader of server-sent events.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// How long any one HTTP exchange of a test may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A client of one server's HTTP API.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    token: Option<String>,
}

/// An answer: its status, headers and body as JSON (`Value::Null` when it is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Answer {
    /// The `reason` of the error's `ErrorInfo`.
    pub fn reason(&self) -> &str {
        self.json["error"]["details"][0]["reason"]
            .as_str()
            .unwrap_or("")
    }
}

impl Http {
    /// A client of `http://addr`.
    pub fn new(addr: std::net::SocketAddr) -> Http {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{addr}"),
            token: None,
        }
    }

    /// The same client, sending `token` as a bearer token.
    pub fn with_token(&self, token: &str) -> Http {
        Http {
            token: Some(token.to_string()),
            ..self.clone()
        }
    }

    /// `GET path` (with its query).
    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, &[], None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &str) -> Answer {
        self.send(Method::POST, path, &[], Some(body.to_string()))
            .await
    }

    /// Any request.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Answer {
        let response = tokio::time::timeout(
            TIMEOUT,
            self.client
                .request(self.request(method, path, headers, body)),
        )
        .await
        .expect("HTTP answer in time")
        .expect("HTTP exchange");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = tokio::time::timeout(TIMEOUT, response.into_body().collect())
            .await
            .expect("HTTP body in time")
            .expect("HTTP body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
            text,
        }
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let typed = headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        if body.is_some() && !typed {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("a valid request")
    }

    /// `GET path` as an event stream, with extra `headers` (`Last-Event-ID`).
    pub async fn events(&self, path: &str, headers: &[(&str, &str)]) -> Events {
        let response = tokio::time::timeout(
            TIMEOUT,
            self.client
                .request(self.request(Method::GET, path, headers, None)),
        )
        .await
        .expect("HTTP answer in time")
        .expect("HTTP exchange");
        assert_eq!(response.status(), StatusCode::OK, "event stream refused");
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "an event stream"
        );
        Events {
            body: response.into_body(),
            buffer: String::new(),
        }
    }
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    pub id: Option<String>,
    pub data: Value,
}

/// The events of a stream, read as they come.
pub struct Events {
    body: hyper::body::Incoming,
    buffer: String,
}

impl Events {
    /// The next event (comments and keep-alives skipped), or `None` when the stream ends.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Event {
                    name: "message".into(),
                    id: None,
                    data: Value::Null,
                };
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(name) = line.strip_prefix("event:") {
                        event.name = name.trim().to_string();
                    } else if let Some(id) = line.strip_prefix("id:") {
                        event.id = Some(id.trim().to_string());
                    } else if let Some(more) = line.strip_prefix("data:") {
                        data.push_str(more.trim_start());
                    }
                }
                if data.is_empty() && event.id.is_none() && event.name == "message" {
                    continue; // a keep-alive comment
                }
                event.data = serde_json::from_str(&data).unwrap_or(Value::Null);
                return Some(event);
            }
            let frame = tokio::time::timeout(TIMEOUT, self.body.frame())
                .await
                .expect("an event in time")?
                .expect("event stream body");
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }

    /// The next `entry` event's position, skipping other events.
    pub async fn next_entry_position(&mut self) -> u64 {
        loop {
            let event = self.next().await.expect("the stream goes on");
            if event.name == "entry" {
                return event
                    .id
                    .expect("entries carry an id")
                    .parse()
                    .expect("a position");
            }
        }
    }
}

impl Http {
    /// Whether a plain `GET path` fails at the HTTP level (no answer, or not a success).
    pub async fn client_request_fails(&self, path: &str) -> bool {
        match self
            .client
            .request(self.request(Method::GET, path, &[], None))
            .await
        {
            Err(_) => true,
            Ok(response) => !response.status().is_success(),
        }
    }
}
