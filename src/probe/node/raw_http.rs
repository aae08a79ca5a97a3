//! Reading the raw HTTP answer a node-local read got over bash's `/dev/tcp` (plain HTTP: the
//! security modes other than strict), as `curl` would have handed it over: the status, the
//! `Location` header, and the body (de-chunked; cut at `Content-Length`).

use super::Reply;

/// The reply in `raw` (a whole HTTP/1.x answer), or why it is not one.
pub(super) fn parse(raw: &str) -> Result<Reply, String> {
    let start = || raw.chars().take(80).collect::<String>();
    let (head, body) = match raw.find("\r\n\r\n") {
        Some(i) => (&raw[..i], &raw[i + 4..]),
        None => match raw.find("\n\n") {
            Some(i) => (&raw[..i], &raw[i + 2..]),
            None => {
                return Err(format!(
                    "not an HTTP answer (no end of headers): {:?}",
                    start()
                ))
            }
        },
    };
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let mut words = status_line.split_whitespace();
    let status = match (words.next(), words.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") && code.len() == 3 => {
            code.parse::<u16>().ok().filter(|c| (100..=599).contains(c))
        }
        _ => None,
    }
    .ok_or_else(|| format!("not an HTTP answer: {:?}", start()))?;
    let mut location = None;
    let mut chunked = false;
    let mut length = None;
    for l in lines {
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "location" if location.is_none() => location = Some(value.to_string()),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "content-length" => length = value.parse::<usize>().ok(),
            _ => {}
        }
    }
    let body = if chunked {
        dechunk(body)?
    } else if let Some(n) = length {
        // Cut short (the connection broke): no answer, as curl has it.
        if body.len() < n {
            return Err(format!(
                "the answer ended {} bytes before its Content-Length of {n}",
                n - body.len()
            ));
        }
        let mut end = n;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body[..end].to_string()
    } else {
        body.to_string()
    };
    Ok(Reply {
        status,
        location,
        body,
    })
}

/// A chunked body's data (RFC 9112 §7.1): size lines in hex, each chunk, a last chunk of 0.
fn dechunk(mut rest: &str) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let (line, after) = rest
            .split_once('\n')
            .ok_or("a chunked body ends inside a chunk size")?;
        let size = line.trim().split(';').next().unwrap_or_default().trim();
        let n = usize::from_str_radix(size, 16)
            .map_err(|_| format!("a chunked body has a bad chunk size {size:?}"))?;
        if n == 0 {
            return Ok(out);
        }
        if after.len() < n || !after.is_char_boundary(n) {
            return Err("a chunked body ends inside a chunk".into());
        }
        out.push_str(&after[..n]);
        rest = after[n..]
            .strip_prefix("\r\n")
            .or_else(|| after[n..].strip_prefix('\n'))
            .unwrap_or(&after[n..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_answer_gives_its_status_location_and_body() {
        let r = parse("HTTP/1.0 307 Temporary Redirect\r\nlocation:  //10.0.0.12:5050\r\ncontent-length: 0\r\n\r\n").unwrap();
        assert_eq!(
            (r.status, r.location.as_deref(), r.body.as_str()),
            (307, Some("//10.0.0.12:5050"), "")
        );
        let r = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing").unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "{}"));
        let r = parse("HTTP/1.1 503 Service Unavailable\r\n\r\nservice stopped").unwrap();
        assert_eq!((r.status, r.body.as_str()), (503, "service stopped"));
    }

    #[test]
    fn a_chunked_body_is_dechunked() {
        let r = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.body, "hello world");
        assert!(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello").is_err());
        assert!(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n50\r\nshort").is_err());
    }

    #[test]
    fn garbage_is_not_an_answer() {
        for g in [
            "",
            "garbage",
            "<html>502</html>\r\n\r\n",
            "HTTP/1.1 abc OK\r\n\r\n",
            "HTTP/1.1 9999 X\r\n\r\n",
            "SSH-2.0-OpenSSH\r\n\r\n",
        ] {
            let e = parse(g).unwrap_err();
            assert!(e.contains("not an HTTP answer"), "{g:?}: {e}");
        }
        // Content-Length beyond the body: cut short; inside a character: whole characters.
        let e = parse("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nab").unwrap_err();
        assert!(e.contains("97 bytes before"), "{e}");
        let r = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\néa").unwrap();
        assert_eq!(r.body, "é");
    }
}
