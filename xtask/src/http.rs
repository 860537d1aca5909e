//! A deliberately tiny HTTP/1.1 client over `std::net::TcpStream`, shared by `demo` and `bench`.
//!
//! xtask only ever talks to processes it started itself on 127.0.0.1, over plain HTTP, so a full
//! client crate (and its build time) would buy nothing. The client sends one request per
//! connection with `Connection: close` and understands the three ways an HTTP/1.1 server can
//! delimit a response body: `Content-Length`, `Transfer-Encoding: chunked`, and closing the
//! connection. It never asks for compression, so bodies arrive as plain bytes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// A parsed HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code from the status line, e.g. 200.
    pub status: u16,
    /// Header fields in the order received; names keep their original case.
    pub headers: Vec<(String, String)>,
    /// The body with any chunked framing removed.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text, with invalid UTF-8 replaced (for printing only).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The parts of an `http://host:port/path?query` URL that the client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `host:port`, used both to connect and as the `Host` header.
    pub authority: String,
    /// Path plus query, always starting with `/`.
    pub path: String,
}

/// Splits a plain-HTTP URL. Only `http://` is accepted: xtask never needs TLS itself.
pub fn parse_url(url: &str) -> Result<Url> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("only http:// URLs are supported, got {url:?}"))?;
    let (authority, path) = match rest.find('/') {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        bail!("URL {url:?} has no host");
    }
    let authority = if authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok(Url {
        authority,
        path: path.to_owned(),
    })
}

/// Sends `GET url` and returns the complete response.
pub fn get(url: &str, timeout: Duration) -> Result<Response> {
    request("GET", url, timeout)
}

/// Sends `POST url` with an empty body and returns the complete response.
pub fn post(url: &str, timeout: Duration) -> Result<Response> {
    request("POST", url, timeout)
}

fn request(method: &str, url: &str, timeout: Duration) -> Result<Response> {
    let parsed = parse_url(url)?;
    let deadline = Instant::now() + timeout;
    let address = std::net::ToSocketAddrs::to_socket_addrs(&parsed.authority)
        .with_context(|| format!("resolving {}", parsed.authority))?
        .next()
        .ok_or_else(|| anyhow!("{} resolves to no address", parsed.authority))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .with_context(|| format!("connecting to {}", parsed.authority))?;
    stream.set_nodelay(true).ok();
    // A POST without a body still needs a length, or the server would wait for one.
    let length = if method == "GET" {
        ""
    } else {
        "Content-Length: 0\r\n"
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: portkey-xtask\r\nAccept: */*\r\n\
         {length}Connection: close\r\n\r\n",
        path = parsed.path,
        host = parsed.authority,
    );
    stream.set_write_timeout(Some(timeout))?;
    stream
        .write_all(head.as_bytes())
        .with_context(|| format!("sending request to {url}"))?;

    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            bail!("{method} {url}: no complete response within {timeout:?}");
        }
        stream.set_read_timeout(Some(remaining))?;
        let read = match stream.read(&mut chunk) {
            Ok(read) => read,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                bail!("{method} {url}: no complete response within {timeout:?}")
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error).with_context(|| format!("reading from {url}")),
        };
        if read == 0 {
            return parse_response(&buffer, true)
                .with_context(|| format!("{method} {url}"))?
                .ok_or_else(|| anyhow!("{method} {url}: connection closed mid-response"));
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(response) =
            parse_response(&buffer, false).with_context(|| format!("{method} {url}"))?
        {
            return Ok(response);
        }
    }
}

/// Parses a response from the bytes received so far.
///
/// Returns `Ok(None)` while more bytes are needed. `at_eof` says the peer has closed the
/// connection: only then is a response without `Content-Length` or chunked framing complete.
pub fn parse_response(bytes: &[u8], at_eof: bool) -> Result<Option<Response>> {
    let Some(head_end) = find(bytes, b"\r\n\r\n") else {
        if at_eof {
            bail!("connection closed before the response headers were complete");
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&bytes[..head_end])
        .map_err(|_| anyhow!("response headers are not valid UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = parse_status_line(status_line)?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| anyhow!("malformed header line {line:?}"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let body = &bytes[head_end + 4..];

    // 1xx, 204 and 304 never carry a body, whatever the headers say.
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Some(response));
    }
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return match decode_chunked(body)? {
            Some(decoded) => {
                response.body = decoded;
                Ok(Some(response))
            }
            None if at_eof => bail!("connection closed inside a chunked body"),
            None => Ok(None),
        };
    }
    if let Some(length) = response.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| anyhow!("invalid Content-Length {length:?}"))?;
        if body.len() >= length {
            response.body = body[..length].to_vec();
            return Ok(Some(response));
        }
        if at_eof {
            bail!(
                "connection closed after {} of {length} body bytes",
                body.len()
            );
        }
        return Ok(None);
    }
    if at_eof {
        response.body = body.to_vec();
        return Ok(Some(response));
    }
    Ok(None)
}

fn parse_status_line(line: &str) -> Result<u16> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        bail!("not an HTTP/1.x status line: {line:?}");
    }
    let code = parts
        .next()
        .ok_or_else(|| anyhow!("status line without a code: {line:?}"))?;
    if code.len() != 3 {
        bail!("invalid status code in {line:?}");
    }
    code.parse()
        .map_err(|_| anyhow!("invalid status code in {line:?}"))
}

/// Removes chunked framing. `Ok(None)` means the terminating zero-size chunk has not arrived.
fn decode_chunked(mut input: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut output = Vec::new();
    loop {
        let Some(line_end) = find(input, b"\r\n") else {
            return Ok(None);
        };
        let size_line = std::str::from_utf8(&input[..line_end])
            .map_err(|_| anyhow!("chunk size line is not valid UTF-8"))?;
        // Chunk extensions (";name=value") are allowed and ignored.
        let size_text = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| anyhow!("invalid chunk size {size_text:?}"))?;
        input = &input[line_end + 2..];
        if size == 0 {
            // Trailer fields may follow; the body itself is complete once they end.
            return Ok(find(input, b"\r\n").map(|_| output));
        }
        if input.len() < size + 2 {
            return Ok(None);
        }
        if &input[size..size + 2] != b"\r\n" {
            bail!("chunk of {size} bytes is not followed by CRLF");
        }
        output.extend_from_slice(&input[..size]);
        input = &input[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let url = parse_url("http://127.0.0.1:9221/pve?target=127.0.0.1:18006").unwrap();
        assert_eq!(url.authority, "127.0.0.1:9221");
        assert_eq!(url.path, "/pve?target=127.0.0.1:18006");
        let url = parse_url("http://localhost").unwrap();
        assert_eq!(url.authority, "localhost:80");
        assert_eq!(url.path, "/");
        assert!(parse_url("https://127.0.0.1/").is_err());
        assert!(parse_url("http:///metrics").is_err());
    }

    #[test]
    fn content_length_body_is_complete_before_eof() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
        let response = parse_response(raw, false).unwrap().unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("text/plain"));
        assert_eq!(response.body, b"hello");
    }

    #[test]
    fn content_length_body_waits_for_more_bytes() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello";
        assert_eq!(parse_response(raw, false).unwrap(), None);
        assert!(parse_response(raw, true).is_err(), "truncated body at EOF");
    }

    #[test]
    fn headers_incomplete() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Le", false).unwrap(),
            None
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n", true).is_err());
    }

    #[test]
    fn chunked_body_is_decoded() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                    5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
        let response = parse_response(raw, false).unwrap().unwrap();
        assert_eq!(response.body_text(), "hello, world");
    }

    #[test]
    fn chunked_body_waits_for_terminating_chunk() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
        assert_eq!(parse_response(raw, false).unwrap(), None);
        assert!(parse_response(raw, true).is_err());
    }

    #[test]
    fn chunked_body_rejects_bad_framing() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
        assert!(parse_response(raw, false).is_err());
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n";
        assert!(parse_response(raw, false).is_err());
    }

    #[test]
    fn close_delimited_body_completes_at_eof() {
        let raw = b"HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\nnot here";
        assert_eq!(parse_response(raw, false).unwrap(), None);
        let response = parse_response(raw, true).unwrap().unwrap();
        assert_eq!(response.status, 404);
        assert_eq!(response.body_text(), "not here");
    }

    #[test]
    fn bodiless_statuses() {
        let raw = b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n";
        let response = parse_response(raw, false).unwrap().unwrap();
        assert_eq!(response.status, 204);
        assert!(response.body.is_empty());
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
        assert!(parse_response(b"HTTP/1.1 2000 OK\r\n\r\n", false).is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false).is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
    }

    #[test]
    fn talks_to_a_real_socket() {
        // A one-shot server on an ephemeral port: checks the request we send and answers in two
        // writes, so the client has to reassemble the response.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                socket.read_exact(&mut byte).unwrap();
                request.push(byte[0]);
            }
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello")
                .unwrap();
            std::thread::sleep(Duration::from_millis(20));
            socket.write_all(b" world").unwrap();
            String::from_utf8(request).unwrap()
        });
        let response = get(
            &format!("http://127.0.0.1:{port}/path?q=1"),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body_text(), "hello world");
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /path?q=1 HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains(&format!("Host: 127.0.0.1:{port}\r\n")));
        assert!(request.contains("Connection: close\r\n"));
    }
}
