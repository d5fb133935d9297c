//! Which addresses outbound requests may reach. Connection settings come from users, so a
//! base URL pointing at the hub's own network (metadata services, databases, admin panels)
//! must be refused unless the operator allows it.

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The environment variable operators use to allow private networks.
pub const ALLOW_PRIVATE_ENV: &str = "PATCHBAY_ALLOW_PRIVATE_NETWORKS";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetworkPolicy {
    /// Public addresses only (the default).
    #[default]
    DenyPrivate,
    /// Any address, for development and single-tenant installs.
    AllowAll,
    /// Public addresses plus these private ranges.
    AllowCidrs(Vec<IpNet>),
}

impl NetworkPolicy {
    /// Parses the value of `PATCHBAY_ALLOW_PRIVATE_NETWORKS`: `true`, `false`, empty, or a
    /// comma-separated list of CIDRs (a bare address counts as a single host).
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.is_empty() || value.eq_ignore_ascii_case("false") {
            return Ok(NetworkPolicy::DenyPrivate);
        }
        if value.eq_ignore_ascii_case("true") {
            return Ok(NetworkPolicy::AllowAll);
        }
        let mut nets = Vec::new();
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = part
                .parse::<IpNet>()
                .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "{ALLOW_PRIVATE_ENV}: '{part}' is not a CIDR; expected true, false or a \
                         comma-separated list such as 10.0.0.0/8,fd00::/8"
                    )
                })?;
            nets.push(net);
        }
        Ok(NetworkPolicy::AllowCidrs(nets))
    }

    /// Reads the policy from the environment; an unset variable means `DenyPrivate`.
    pub fn from_env() -> Result<Self, String> {
        Self::parse(&std::env::var(ALLOW_PRIVATE_ENV).unwrap_or_default())
    }

    /// Whether a connection to `ip` is allowed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        if !is_private(ip) {
            return true;
        }
        match self {
            NetworkPolicy::DenyPrivate => false,
            NetworkPolicy::AllowAll => true,
            NetworkPolicy::AllowCidrs(nets) => {
                let canonical = canonical(ip);
                nets.iter()
                    .any(|n| n.contains(&ip) || n.contains(&canonical))
            }
        }
    }

    /// `Err` with an explanation when `ip` is refused.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        if self.permits(ip) {
            Ok(())
        } else {
            Err(Refused(ip))
        }
    }
}

/// A connection the policy refused; its message says how to allow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub IpAddr);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "refused to connect to private address {}; set {ALLOW_PRIVATE_ENV}=true or list \
             the CIDR to allow it",
            self.0
        )
    }
}

impl std::error::Error for Refused {}

/// Maps IPv4-mapped and NAT64 IPv6 addresses to the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    // 64:ff9b::/96 translates to IPv4 on NAT64 gateways.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let o = v6.octets();
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    None
}

/// Loopback, private, link-local, unique-local, unspecified, CGNAT, broadcast and multicast.
pub fn is_private(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
        }
    }
}

/// DNS resolution that drops refused addresses, so a public name that resolves to a private
/// address is caught too.
pub(crate) struct PolicyResolver {
    pub(crate) policy: NetworkPolicy,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut first_refused = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(r) => {
                        first_refused.get_or_insert(r);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), first_refused) {
                (true, Some(refused)) => Err(refused.into()),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(is_private(ip(private)), "{private} should be private");
        }
        for public in [
            "8.8.8.8",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(!is_private(ip(public)), "{public} should be public");
        }
    }

    #[test]
    fn parses_policy() {
        assert_eq!(
            NetworkPolicy::parse("").unwrap(),
            NetworkPolicy::DenyPrivate
        );
        assert_eq!(
            NetworkPolicy::parse(" FALSE ").unwrap(),
            NetworkPolicy::DenyPrivate
        );
        assert_eq!(
            NetworkPolicy::parse("true").unwrap(),
            NetworkPolicy::AllowAll
        );
        let p = NetworkPolicy::parse("10.0.0.0/8, fd00::/8,192.168.1.5").unwrap();
        assert!(p.permits(ip("10.9.9.9")));
        assert!(p.permits(ip("::ffff:10.9.9.9")));
        assert!(p.permits(ip("192.168.1.5")));
        assert!(!p.permits(ip("192.168.1.6")));
        assert!(!p.permits(ip("127.0.0.1")));
        assert!(p.permits(ip("8.8.8.8")));
        let err = NetworkPolicy::parse("10.0.0.0/8,nonsense").unwrap_err();
        assert!(err.contains("nonsense"), "{err}");
    }

    #[test]
    fn refusal_explains_how_to_allow() {
        let msg = NetworkPolicy::DenyPrivate
            .check(ip("127.0.0.1"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("127.0.0.1") && msg.contains(ALLOW_PRIVATE_ENV),
            "{msg}"
        );
    }
}
