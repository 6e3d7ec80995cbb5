//! HTTP the server makes on someone's behalf (push endpoints a browser named, pictures a
//! carrier points at, the API address an admin typed): https only, to public addresses only
//! (checked after DNS resolution, on every redirect hop, and again at connection time by the
//! client's resolver, so a name that changes its answer can't slip past), with a time cap;
//! size caps are the callers' (they read bodies with [`read_capped`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Where a request may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// https to public addresses only.
    Public,
    /// Also plain http and loopback addresses: for tests (mock push services and carriers on
    /// 127.0.0.1), never configurable in production.
    AlsoLoopback,
}

/// Whether `ip` is an address on the public internet: not loopback, private (RFC 1918),
/// link-local, CGNAT (100.64/10), unique-local (fc00::/7), multicast, documentation,
/// benchmarking, unspecified or reserved; IPv4-mapped IPv6 is judged as its IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 (reaches IPv4 space)
                || (s[0] == 0x2002) // 6to4 (embeds any IPv4)
                || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0))
            // IPv4-compatible
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn allowed(ip: IpAddr, reach: Reach) -> bool {
    is_public(ip) || (reach == Reach::AlsoLoopback && ip.is_loopback())
}

/// Checks what can be checked without the network: the scheme, and the host when it is an
/// address. Names are checked when they resolve.
pub fn check_url(url: &url::Url, reach: Reach) -> Result<(), String> {
    match (url.scheme(), reach) {
        ("https", _) | ("http", Reach::AlsoLoopback) => {}
        _ => return Err("only https addresses are allowed".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("addresses with credentials in them are not allowed".into());
    }
    match url.host() {
        None => Err("the address has no host".into()),
        Some(url::Host::Ipv4(ip)) if !allowed(IpAddr::V4(ip), reach) => {
            Err(format!("{ip} is not a public address"))
        }
        Some(url::Host::Ipv6(ip)) if !allowed(IpAddr::V6(ip), reach) => {
            Err(format!("{ip} is not a public address"))
        }
        Some(_) => Ok(()),
    }
}

/// Resolves `url`'s host and checks every address it has (before anything is sent, so a
/// caller can refuse bad input with a clear message).
pub async fn check_resolved(url: &url::Url, reach: Reach) -> Result<(), String> {
    check_url(url, reach)?;
    let Some(url::Host::Domain(host)) = url.host() else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::lookup_host((host, port)),
    )
    .await
    .map_err(|_| format!("{host} did not resolve in time"))?
    .map_err(|e| format!("{host} does not resolve: {e}"))?;
    let mut any = false;
    for addr in addrs {
        any = true;
        if !allowed(addr.ip(), reach) {
            return Err(format!(
                "{host} resolves to {}, not a public address",
                addr.ip()
            ));
        }
    }
    if any {
        Ok(())
    } else {
        Err(format!("{host} has no address"))
    }
}

/// The client's resolver: only allowed addresses reach the connector.
struct PublicOnly(Reach);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let reach = self.0;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allowed(a.ip(), reach))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Redirects followed at most (carriers' media links redirect to storage once or twice).
const MAX_REDIRECTS: usize = 3;

/// A client for requests on someone's behalf, with `timeout` for the whole exchange.
/// Redirects are followed only to allowed addresses, and at most [`MAX_REDIRECTS`].
pub fn client(reach: Reach, timeout: Duration) -> reqwest::Client {
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        match check_url(attempt.url(), reach) {
            Ok(()) => attempt.follow(),
            Err(why) => attempt.error(format!("redirect refused: {why}")),
        }
    });
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .redirect(redirects)
        .dns_resolver(Arc::new(PublicOnly(reach)))
        .build()
        .expect("HTTP client")
}

/// Reads a response body up to `cap` bytes; more is an error (nothing larger is buffered).
pub async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(format!("the answer is larger than {cap} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > cap {
            return Err(format!("the answer is larger than {cap} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip(private)), "{private} counted as public");
        }
        for public in ["1.1.1.1", "8.8.8.8", "100.128.0.1", "2606:4700::1111"] {
            assert!(is_public(ip(public)), "{public} counted as private");
        }
    }

    #[test]
    fn urls_need_https_and_a_public_literal() {
        let check = |u: &str, reach| check_url(&url::Url::parse(u).unwrap(), reach);
        assert!(check("https://fcm.googleapis.com/fcm/send/x", Reach::Public).is_ok());
        assert!(check("http://fcm.googleapis.com/x", Reach::Public).is_err());
        assert!(check("https://127.0.0.1/x", Reach::Public).is_err());
        assert!(check("https://[::1]/x", Reach::Public).is_err());
        assert!(check("https://10.0.0.8/x", Reach::Public).is_err());
        assert!(check("https://user:pw@push.example/x", Reach::Public).is_err());
        assert!(check("ftp://push.example/x", Reach::Public).is_err());
        assert!(check("http://127.0.0.1:9/x", Reach::AlsoLoopback).is_ok());
        assert!(check("http://10.0.0.8/x", Reach::AlsoLoopback).is_err());
    }

    #[tokio::test]
    async fn names_are_checked_after_they_resolve() {
        let localhost = url::Url::parse("https://localhost/x").unwrap();
        let err = check_resolved(&localhost, Reach::Public).await.unwrap_err();
        assert!(err.contains("not a public address"), "{err}");
    }
}
