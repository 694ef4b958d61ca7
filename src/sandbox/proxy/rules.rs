//! Which hosts a command may reach through the proxy: the person's allow-list and deny-list of
//! domains (`crates.io`, `*.crates.io`), the deny-list winning, and the addresses no name may
//! lead to (the person's own machine and network) whatever list it is on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The ports an entry without one allows: the web's. An allowed registry is no door to the
/// same host's SSH, mail or database ports.
pub const WEB_PORTS: [u16; 2] = [80, 443];

/// How a host and port a command asked for are kept once the person answers: the host alone
/// for the web's ports (allowing both, as a list entry without a port does), `host:port`
/// (`[v6]:port`) for any other, which allows that port alone.
pub fn host_rule(host: &str, port: u16) -> String {
    if WEB_PORTS.contains(&port) {
        host.to_string()
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The ports a kept rule allows, as a person reads them after the host: `on ports 80 and
/// 443`, `on port 8080 only`.
pub fn rule_ports(rule: &str) -> String {
    match Pattern::parse(rule).ok().and_then(|pattern| pattern.port) {
        Some(port) => format!("on port {port} only"),
        None => "on ports 80 and 443".to_string(),
    }
}

/// The question of a host a command asked to reach, in one line: the answer is about the host
/// on the web's ports (80 and 443), or about the one other port asked.
pub fn network_question(host: &str, port: u16) -> String {
    let ports = rule_ports(&host_rule(host, port));
    let asked = if WEB_PORTS.contains(&port) {
        format!(" (this one asks for {port})")
    } else {
        String::new()
    };
    format!("Let commands reach {host} {ports}{asked}? It is not on allowed_domains")
}

/// One entry of a list: a name, or every name beneath one (`*.crates.io`, which is not
/// `crates.io` itself), with a port when it names only that one; without one, an allow-list
/// entry allows the web's ports ([`WEB_PORTS`]) and a deny-list entry denies every port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// Lowercase, without a trailing dot.
    name: String,
    wildcard: bool,
    port: Option<u16>,
}

/// What is wrong with an entry of `allowed_domains` or `denied_domains`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("`{entry}`: `{port}` is not a port")]
    Port { entry: String, port: String },
    #[error("`{0}` is not a domain (`crates.io`, `*.crates.io`, `localhost:4873`)")]
    NotADomain(String),
    #[error("`{0}`: an address takes no wildcard")]
    WildAddress(String),
}

impl Pattern {
    /// Reads one entry as the config writes it; an error says what is wrong with it.
    pub fn parse(entry: &str) -> Result<Self, PatternError> {
        let trimmed = entry.trim();
        let (host, port) = match trimmed.rsplit_once(':') {
            // An IPv6 literal's own colons are not a port: `[::1]:8080`, or `::1` bare.
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|port| *port > 0)
                    .ok_or_else(|| PatternError::Port {
                        entry: trimmed.to_string(),
                        port: port.to_string(),
                    })?;
                (host, Some(port))
            }
            _ => (trimmed, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let (wildcard, name) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host),
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let valid_name = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid_name && name.parse::<IpAddr>().is_err() {
            return Err(PatternError::NotADomain(trimmed.to_string()));
        }
        if wildcard && name.parse::<IpAddr>().is_ok() {
            return Err(PatternError::WildAddress(trimmed.to_string()));
        }
        Ok(Self {
            name,
            wildcard,
            port,
        })
    }

    /// Whether `host` (lowercase, no trailing dot) on `port` is one this entry names; an entry
    /// without a port names `any_port` (the deny-list's), else the web's.
    fn covers(&self, host: &str, port: u16, any_port: bool) -> bool {
        let port_named = match self.port {
            Some(only) => only == port,
            None => any_port || WEB_PORTS.contains(&port),
        };
        if !port_named {
            return false;
        }
        if self.wildcard {
            host.len() > self.name.len()
                && host.ends_with(&self.name)
                && host.as_bytes()[host.len() - self.name.len() - 1] == b'.'
        } else {
            host == self.name
        }
    }

    /// Names one host and one port exactly: the person's own service, which may be on their
    /// machine or network (a registry mirror on `localhost:4873`).
    fn names_a_local_service(&self) -> bool {
        !self.wildcard && self.port.is_some()
    }
}

/// What the lists say of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// On the allow-list (and not the deny-list). `local` when the entry that allows it names
    /// the host and port exactly, which may then lead to a private address.
    Allowed { local: bool },
    /// On the deny-list: the entry that denies it.
    Denied(String),
    /// On neither: the person is asked, or, where nobody can be, it is refused.
    Unlisted,
}

/// The allow-list and the deny-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainRules {
    allowed: Vec<Pattern>,
    denied: Vec<(Pattern, String)>,
}

impl DomainRules {
    /// The lists as the config gives them; every entry that cannot be read is said, one line
    /// each, and left out.
    pub fn new(allowed: &[String], denied: &[String]) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        let mut read = |entries: &[String], list: &str| -> Vec<(Pattern, String)> {
            entries
                .iter()
                .filter_map(|entry| match Pattern::parse(entry) {
                    Ok(pattern) => Some((pattern, entry.trim().to_string())),
                    Err(why) => {
                        problems.push(format!("{list}: {why}"));
                        None
                    }
                })
                .collect()
        };
        let allowed = read(allowed, "allowed_domains")
            .into_iter()
            .map(|(pattern, _)| pattern)
            .collect();
        let denied = read(denied, "denied_domains");
        (Self { allowed, denied }, problems)
    }

    /// How many entries each list holds: allowed, denied.
    pub fn sizes(&self) -> (usize, usize) {
        (self.allowed.len(), self.denied.len())
    }

    /// What the lists say of `host` on `port`.
    pub fn judge(&self, host: &str, port: u16) -> Judged {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if let Some((_, entry)) = self
            .denied
            .iter()
            .find(|(p, _)| p.covers(&host, port, true))
        {
            return Judged::Denied(entry.clone());
        }
        match self
            .allowed
            .iter()
            .filter(|p| p.covers(&host, port, false))
            .fold(None, |local: Option<bool>, p| {
                Some(local.unwrap_or(false) || p.names_a_local_service())
            }) {
            Some(local) => Judged::Allowed { local },
            None => Judged::Unlisted,
        }
    }
}

/// Whether `address` is out on the internet, not the person's machine or network: loopback,
/// the private and shared ranges, link-local, unique-local, multicast and the unspecified
/// address are not (an IPv4 address written as IPv6 is judged as itself).
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), and the benchmarking and reserved ranges.
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local (fc00::/7) and link-local (fe80::/10).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // IPv4-compatible and NAT64 forms (64:ff9b::/96, 64:ff9b:1::/48, the address in the
        // last 32 bits) of addresses judged above.
        || ip.to_ipv4().is_some_and(|v4| !is_public_v4(v4))
        || (nat64(ip) && !is_public_v4(Ipv4Addr::from_bits(ip.to_bits() as u32))))
}

/// Whether `ip` is in a NAT64 prefix, which carries an IPv4 address in its last 32 bits.
fn nat64(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]) || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules(allowed: &[&str], denied: &[&str]) -> DomainRules {
        let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (rules, problems) = DomainRules::new(&owned(allowed), &owned(denied));
        assert!(problems.is_empty(), "{problems:?}");
        rules
    }

    #[test]
    fn a_wildcard_covers_the_names_beneath_it_not_the_name_itself_nor_look_alikes() {
        let rules = rules(&["*.crates.io", "pypi.org"], &[]);
        assert_eq!(
            rules.judge("index.crates.io", 443),
            Judged::Allowed { local: false }
        );
        assert_eq!(
            rules.judge("A.B.Crates.IO.", 443),
            Judged::Allowed { local: false }
        );
        assert_eq!(rules.judge("crates.io", 443), Judged::Unlisted);
        assert_eq!(rules.judge("evilcrates.io", 443), Judged::Unlisted);
        assert_eq!(rules.judge("crates.io.evil.com", 443), Judged::Unlisted);
        assert_eq!(
            rules.judge("pypi.org", 80),
            Judged::Allowed { local: false }
        );
        assert_eq!(rules.judge("files.pypi.org", 443), Judged::Unlisted);
    }

    #[test]
    fn the_deny_list_wins_and_says_which_entry() {
        let rules = rules(&["*.example.com"], &["secret.example.com"]);
        assert_eq!(
            rules.judge("secret.example.com", 443),
            Judged::Denied("secret.example.com".into())
        );
        assert_eq!(
            rules.judge("docs.example.com", 443),
            Judged::Allowed { local: false }
        );
    }

    #[test]
    fn only_an_entry_naming_one_host_and_port_may_lead_home() {
        let rules = rules(&["localhost:4873", "*.internal", "mirror.lan"], &[]);
        assert_eq!(
            rules.judge("localhost", 4873),
            Judged::Allowed { local: true }
        );
        assert_eq!(rules.judge("localhost", 5432), Judged::Unlisted);
        assert_eq!(
            rules.judge("db.internal", 443),
            Judged::Allowed { local: false }
        );
        assert_eq!(
            rules.judge("mirror.lan", 80),
            Judged::Allowed { local: false }
        );
    }

    /// An entry without a port allows the web's ports only: an allowed registry's SSH, mail
    /// or database port is no way out. `host:port` allows that port; a denied name is denied
    /// on every port.
    #[test]
    fn an_entry_without_a_port_allows_the_webs_ports_only() {
        let rules = rules(
            &["registry.npmjs.org", "git.example:22"],
            &["tracker.example"],
        );
        for port in [80, 443] {
            assert_eq!(
                rules.judge("registry.npmjs.org", port),
                Judged::Allowed { local: false }
            );
        }
        for port in [22, 25, 6379, 8080] {
            assert_eq!(rules.judge("registry.npmjs.org", port), Judged::Unlisted);
        }
        assert_eq!(
            rules.judge("git.example", 22),
            Judged::Allowed { local: true }
        );
        assert_eq!(rules.judge("git.example", 443), Judged::Unlisted);
        assert_eq!(
            rules.judge("tracker.example", 6379),
            Judged::Denied("tracker.example".into())
        );
        assert_eq!(host_rule("pypi.org", 443), "pypi.org");
        assert_eq!(host_rule("pypi.org", 8080), "pypi.org:8080");
        assert_eq!(host_rule("2001:db8::1", 22), "[2001:db8::1]:22");
        assert_eq!(rule_ports("pypi.org"), "on ports 80 and 443");
        assert_eq!(rule_ports("pypi.org:8080"), "on port 8080 only");
    }

    #[test]
    fn entries_that_are_no_domain_are_said_and_left_out() {
        let bad = [
            "",
            "*",
            "*.",
            "a..b",
            "exa mple.com",
            "x.com:0",
            "x.com:http",
            "*.1.2.3.4",
        ]
        .map(String::from);
        let (rules, problems) = DomainRules::new(&bad, &[]);
        assert_eq!(problems.len(), bad.len(), "{problems:?}");
        assert_eq!(rules, DomainRules::default());
        assert!(Pattern::parse("[::1]:8080").is_ok());
        assert!(Pattern::parse("127.0.0.1:8080").is_ok());
    }

    #[test]
    fn the_default_list_reads_whole() {
        let list: Vec<String> = crate::config::DEFAULT_ALLOWED_DOMAINS
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (rules, problems) = DomainRules::new(&list, &[]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            rules.judge("index.crates.io", 443),
            Judged::Allowed { local: false }
        );
    }

    #[test]
    fn the_machine_and_its_network_are_not_public() {
        for private in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::c0a8:101",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "151.101.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    proptest! {
        /// Whatever the entry, reading it never panics, and a name it allows is one it names:
        /// the name itself, or one beneath it for a wildcard.
        #[test]
        fn a_pattern_covers_only_what_it_names(entry in "\\PC{0,40}", host in "[a-z0-9.-]{1,30}") {
            if let Ok(pattern) = Pattern::parse(&entry)
                && pattern.covers(&host, 443, false)
            {
                if pattern.wildcard {
                    let beneath = format!(".{}", pattern.name);
                    prop_assert!(host.ends_with(&beneath));
                } else {
                    prop_assert_eq!(&host, &pattern.name);
                }
            }
        }
    }
}
