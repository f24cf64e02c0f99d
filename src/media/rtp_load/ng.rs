//! A client of rtpengine's "ng" control protocol: one bencoded dictionary per UDP datagram,
//! prefixed by a cookie and a space; the reply echoes the cookie. Enough for the load generator:
//! ping, offer, answer, delete. Bencode through `serde_bencode` (serde-derived request and reply
//! types, no hand-written codec).

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why an ng exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum NgError {
    /// The socket failed or no reply came in time.
    #[error("ng control socket: {0}")]
    Io(#[from] std::io::Error),
    /// The reply was not a bencoded dictionary after our cookie.
    #[error("ng reply not understood: {0}")]
    Decode(String),
    /// rtpengine answered `result: error`.
    #[error("rtpengine refused {command}: {reason}")]
    Refused {
        /// The command.
        command: String,
        /// rtpengine's `error-reason`.
        reason: String,
    },
}

#[derive(Serialize)]
struct Request<'a> {
    command: &'a str,
    #[serde(rename = "call-id", skip_serializing_if = "Option::is_none")]
    call_id: Option<&'a str>,
    #[serde(rename = "from-tag", skip_serializing_if = "Option::is_none")]
    from_tag: Option<&'a str>,
    #[serde(rename = "to-tag", skip_serializing_if = "Option::is_none")]
    to_tag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sdp: Option<&'a str>,
}

#[derive(Deserialize)]
struct Reply {
    result: String,
    #[serde(default)]
    sdp: Option<String>,
    #[serde(rename = "error-reason", default)]
    error_reason: Option<String>,
}

/// A connected ng client.
pub struct NgClient {
    socket: UdpSocket,
    next_cookie: u64,
    buf: Vec<u8>,
}

impl NgClient {
    /// A client of the ng listener at `server`.
    pub fn connect(server: SocketAddr) -> Result<Self, NgError> {
        let local: SocketAddr = if server.is_ipv4() {
            SocketAddr::from(([127, 0, 0, 1], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(server)?;
        socket.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(NgClient {
            socket,
            next_cookie: 1,
            buf: vec![0; 65536],
        })
    }

    fn exchange(&mut self, req: &Request<'_>) -> Result<Reply, NgError> {
        let cookie = format!("c{}", self.next_cookie);
        self.next_cookie += 1;
        let body = serde_bencode::to_bytes(req).map_err(|e| NgError::Decode(e.to_string()))?;
        let mut msg = Vec::with_capacity(cookie.len() + 1 + body.len());
        msg.extend_from_slice(cookie.as_bytes());
        msg.push(b' ');
        msg.extend_from_slice(&body);
        self.socket.send(&msg)?;
        loop {
            let n = self.socket.recv(&mut self.buf)?;
            let data = &self.buf[..n];
            let Some(space) = data.iter().position(|&b| b == b' ') else {
                return Err(NgError::Decode("no cookie".into()));
            };
            if &data[..space] != cookie.as_bytes() {
                // A late reply to an earlier, timed-out request: not ours.
                continue;
            }
            let reply: Reply = serde_bencode::from_bytes(&data[space + 1..])
                .map_err(|e| NgError::Decode(e.to_string()))?;
            if reply.result == "error" {
                return Err(NgError::Refused {
                    command: req.command.to_string(),
                    reason: reply.error_reason.unwrap_or_default(),
                });
            }
            return Ok(reply);
        }
    }

    /// `ping`: `Ok` once rtpengine answers `pong`.
    pub fn ping(&mut self) -> Result<(), NgError> {
        let reply = self.exchange(&Request {
            command: "ping",
            call_id: None,
            from_tag: None,
            to_tag: None,
            sdp: None,
        })?;
        match reply.result.as_str() {
            "pong" => Ok(()),
            other => Err(NgError::Decode(format!("ping answered {other}"))),
        }
    }

    /// `offer`: the caller's SDP in, the SDP to give the callee out.
    pub fn offer(&mut self, call_id: &str, from_tag: &str, sdp: &str) -> Result<String, NgError> {
        self.sdp_exchange("offer", call_id, from_tag, None, sdp)
    }

    /// `answer`: the callee's SDP in, the SDP to give the caller out.
    pub fn answer(
        &mut self,
        call_id: &str,
        from_tag: &str,
        to_tag: &str,
        sdp: &str,
    ) -> Result<String, NgError> {
        self.sdp_exchange("answer", call_id, from_tag, Some(to_tag), sdp)
    }

    fn sdp_exchange(
        &mut self,
        command: &str,
        call_id: &str,
        from_tag: &str,
        to_tag: Option<&str>,
        sdp: &str,
    ) -> Result<String, NgError> {
        let reply = self.exchange(&Request {
            command,
            call_id: Some(call_id),
            from_tag: Some(from_tag),
            to_tag,
            sdp: Some(sdp),
        })?;
        reply
            .sdp
            .ok_or_else(|| NgError::Decode(format!("{command} reply without sdp")))
    }

    /// `delete`: ends the call in rtpengine.
    pub fn delete(&mut self, call_id: &str, from_tag: &str) -> Result<(), NgError> {
        self.exchange(&Request {
            command: "delete",
            call_id: Some(call_id),
            from_tag: Some(from_tag),
            to_tag: None,
            sdp: None,
        })
        .map(|_| ())
    }
}

/// A one-stream PCMU SDP for `addr`.
pub fn sdp_for(addr: SocketAddr, session: u64) -> String {
    format!(
        "v=0\r\no=- {session} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n",
        ip = addr.ip(),
        port = addr.port()
    )
}

/// The RTP address in an SDP (`c=` and the first `m=audio` port).
pub fn media_addr(sdp: &str) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for line in sdp.lines() {
        if let Some(rest) = line.strip_prefix("c=IN IP4 ") {
            ip = rest.trim().parse().ok().or(ip);
        } else if let Some(rest) = line.strip_prefix("m=audio ") {
            if port.is_none() {
                port = rest.split_whitespace().next()?.parse::<u16>().ok();
            }
        }
    }
    Some(SocketAddr::new(std::net::IpAddr::V4(ip?), port?))
}
