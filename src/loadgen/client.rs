//! The HTTP side of the load generator: the target parsed from `--url`, and one keep-alive
//! HTTP/1.1 connection (hyper's low-level client) that reconnects after any transport error. A
//! server that refuses the connection, closes it, answers something that is not HTTP or sends an
//! oversized body gives a [`TransportError`], never a panic.

use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port` to connect to.
    pub authority: String,
    /// The host as written in the URL (no port).
    pub host: String,
    pub port: u16,
}

impl Target {
    /// `http://host[:port][/]`; anything else (https, a path, no host) is a bad argument.
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url.parse().map_err(|e| format!("--url {url:?} is not a URL: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => return Err(format!("--url: only http:// is supported, not {other}://")),
            None => return Err(format!("--url {url:?} needs the http:// scheme")),
        }
        let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(|| format!("--url {url:?} has no host"))?;
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!("--url {url:?}: give the daemon's base URL, without a path"));
        }
        let port = uri.port_u16().unwrap_or(80);
        Ok(Target { authority: format!("{host}:{port}"), host: host.to_string(), port })
    }

    /// The `Host` header: `<project>.<host>:<port>` for an SLS project (as the SDKs address it),
    /// else `<host>:<port>`.
    pub fn host_header(&self, project: Option<&str>) -> Result<HeaderValue, String> {
        let text = match project {
            Some(p) => format!("{p}.{}:{}", self.host, self.port),
            None => self.authority.clone(),
        };
        HeaderValue::from_str(&text).map_err(|_| format!("{text:?} cannot be a Host header"))
    }

    /// The daemon takes the project from `<project>.<endpoint>` only when the endpoint is an IPv4
    /// literal or `localhost` (or configured); otherwise the request names it in `x-log-project`.
    pub fn project_needs_header(&self) -> bool {
        !(self.host.parse::<Ipv4Addr>().is_ok() || self.host.eq_ignore_ascii_case("localhost"))
    }

    /// The headers that address an SLS project.
    pub fn project_headers(&self, project: &str) -> Result<HeaderMap, String> {
        let mut h = HeaderMap::new();
        h.insert(HOST, self.host_header(Some(project))?);
        if self.project_needs_header() {
            let v = HeaderValue::from_str(project).map_err(|_| format!("{project:?} is not a valid project name"))?;
            h.insert("x-log-project", v);
        }
        Ok(h)
    }
}

/// A failure below HTTP: connect, write, read, a malformed or oversized answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError(pub String);

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A whole answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// One keep-alive connection; reconnects on the next request after any failure.
pub struct Conn {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
    driver: Option<JoinHandle<()>>,
}

impl Conn {
    pub fn new(target: Arc<Target>) -> Conn {
        Conn { target, sender: None, driver: None }
    }

    /// Opens the connection now (it is otherwise opened by the first request).
    pub async fn connect(&mut self) -> Result<(), TransportError> {
        self.reset();
        let stream = TcpStream::connect(&self.target.authority)
            .await
            .map_err(|e| TransportError(format!("connect to {}: {e}", self.target.authority)))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| TransportError(format!("handshake: {e}")))?;
        self.driver = Some(tokio::spawn(async move {
            // Ends when the server closes, on an I/O error, or when the sender is dropped.
            let _ = connection.await;
        }));
        self.sender = Some(sender);
        Ok(())
    }

    /// Drops the connection; the next request opens a new one.
    pub fn reset(&mut self) {
        self.sender = None;
        if let Some(driver) = self.driver.take() {
            driver.abort();
        }
    }

    /// Sends one request and reads the whole answer, at most `max_body` bytes of it.
    pub async fn send(&mut self, req: Request<Full<Bytes>>, max_body: usize) -> Result<Answer, TransportError> {
        let result = self.exchange(req, max_body).await;
        if result.is_err() {
            self.reset();
        }
        result
    }

    async fn exchange(&mut self, req: Request<Full<Bytes>>, max_body: usize) -> Result<Answer, TransportError> {
        // A keep-alive connection the server closed while idle is replaced before sending.
        let usable = match self.sender.as_mut() {
            Some(s) if !s.is_closed() => s.ready().await.is_ok(),
            _ => false,
        };
        if !usable {
            self.connect().await?;
        }
        let Some(sender) = self.sender.as_mut() else {
            return Err(TransportError("no connection".into()));
        };
        sender.ready().await.map_err(|e| TransportError(format!("connection not ready: {e}")))?;
        let response = sender.send_request(req).await.map_err(|e| TransportError(format!("request: {e}")))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, max_body)
            .collect()
            .await
            .map_err(|e| TransportError(format!("reading the answer: {e}")))?
            .to_bytes();
        Ok(Answer { status: parts.status, headers: parts.headers, body })
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reset();
    }
}

/// A request to `path` (origin form) with `headers` and `body`.
pub fn request(method: Method, path: &str, headers: &HeaderMap, body: Bytes) -> Result<Request<Full<Bytes>>, String> {
    let uri: Uri = path.parse().map_err(|e| format!("{path:?} is not a valid request path: {e}"))?;
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers.clone();
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_address_projects() {
        let t = Target::parse("http://127.0.0.1:7480").unwrap();
        assert_eq!((t.authority.as_str(), t.port), ("127.0.0.1:7480", 7480));
        assert_eq!(t.host_header(Some("bench")).unwrap(), "bench.127.0.0.1:7480");
        assert_eq!(t.host_header(None).unwrap(), "127.0.0.1:7480");
        assert!(!t.project_needs_header());
        let h = t.project_headers("bench").unwrap();
        assert!(h.get("x-log-project").is_none());
        let t = Target::parse("http://logs.internal/").unwrap();
        assert_eq!(t.authority, "logs.internal:80");
        assert_eq!(t.project_headers("bench").unwrap()["x-log-project"], "bench");
        for bad in ["https://127.0.0.1:7480", "127.0.0.1:7480", "http://127.0.0.1/x", "not a url"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_server_that_is_not_http_is_a_transport_error() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
            }
        });
        let target = Arc::new(Target::parse(&format!("http://{addr}")).unwrap());
        let mut conn = Conn::new(target.clone());
        let req = request(Method::GET, "/health", &target.project_headers("p").unwrap(), Bytes::new()).unwrap();
        assert!(conn.send(req, 1024).await.is_err());
        // Nothing listens here any more once the listener is gone: connect errors, no panic.
        let mut closed = Conn::new(Arc::new(Target::parse("http://127.0.0.1:1").unwrap()));
        assert!(closed.connect().await.is_err());
    }
}
