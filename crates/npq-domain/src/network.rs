//! IP networks and client addresses: the allow-list that restricts where a lead provider's
//! requests may come from, and how the client's address is found behind trusted proxies.
//!
//! Addresses are compared in canonical form, so an IPv4-mapped IPv6 address such as
//! `::ffff:10.1.2.3` (what a dual-stack listener reports for an IPv4 client) counts as `10.1.2.3`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;

/// Maximum number of networks on one lead provider's allow-list.
pub const MAX_ALLOWED_NETWORKS: usize = 256;

/// An IPv4 or IPv6 network in CIDR notation, such as `10.0.0.0/8` or `2001:db8::/32`.
///
/// A bare address parses as the network of that address alone (`/32` or `/128`). The text is
/// always shown with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpNetwork(IpNet);

/// Error for text that is not an IP address or a network in CIDR notation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkParseError {
    #[error(
        "'{0}' is not an IP address or a network in CIDR notation; write it as 10.0.0.0/8, 2001:db8::/32 or a single address"
    )]
    Invalid(String),
    #[error("'{text}' has bits set after its prefix length; write the network address, {network}")]
    HostBitsSet { text: String, network: String },
    #[error("an allow-list contains at most {MAX_ALLOWED_NETWORKS} networks; {0} were given")]
    TooMany(usize),
}

impl IpNetwork {
    /// Returns the network that contains `address` alone.
    pub fn single(address: IpAddr) -> Self {
        Self(IpNet::from(address.to_canonical()))
    }

    /// Returns the first address of the network.
    pub fn address(&self) -> IpAddr {
        self.0.network()
    }

    /// Returns the prefix length: 0 to 32 for IPv4, 0 to 128 for IPv6.
    pub fn prefix_len(&self) -> u8 {
        self.0.prefix_len()
    }

    /// Returns whether `address` is in the network. An IPv4-mapped IPv6 address is also compared
    /// as the IPv4 address it maps.
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.contains(&address) || self.0.contains(&address.to_canonical())
    }
}

impl FromStr for IpNetwork {
    type Err = NetworkParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let invalid = || NetworkParseError::Invalid(text.to_owned());
        let Some((address, prefix)) = trimmed.split_once('/') else {
            return trimmed.parse::<IpAddr>().map(|address| Self(IpNet::from(address))).map_err(|_| invalid());
        };
        // `u8::from_str` accepts a leading `+`; CIDR notation has digits only.
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(invalid());
        }
        let address: IpAddr = address.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        let network = IpNet::new(address, prefix).map_err(|_| invalid())?;
        if network.trunc() != network {
            return Err(NetworkParseError::HostBitsSet {
                text: trimmed.to_owned(),
                network: network.trunc().to_string(),
            });
        }
        Ok(Self(network))
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// The networks a lead provider's requests may come from. An empty list places no restriction.
///
/// The networks are kept sorted and without duplicates, so two lists with the same networks are
/// equal whatever order they were given in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<IpNetwork>);

impl AllowList {
    /// Builds a list from networks in any order, dropping duplicates.
    pub fn new(networks: impl IntoIterator<Item = IpNetwork>) -> Result<Self, NetworkParseError> {
        let mut networks: Vec<IpNetwork> = networks.into_iter().collect();
        networks.sort();
        networks.dedup();
        if networks.len() > MAX_ALLOWED_NETWORKS {
            return Err(NetworkParseError::TooMany(networks.len()));
        }
        Ok(Self(networks))
    }

    /// Parses each text as an [`IpNetwork`]. The error names the first text that does not parse.
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<Self, NetworkParseError> {
        let networks = texts.iter().map(|text| text.as_ref().parse()).collect::<Result<Vec<IpNetwork>, _>>()?;
        Self::new(networks)
    }

    /// Returns whether the list places no restriction.
    pub fn is_unrestricted(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns whether a request from `address` is allowed: the list is empty, or one of its
    /// networks contains the address.
    pub fn permits(&self, address: IpAddr) -> bool {
        self.is_unrestricted() || self.0.iter().any(|network| network.contains(address))
    }

    /// Returns the networks, sorted.
    pub fn networks(&self) -> &[IpNetwork] {
        &self.0
    }
}

/// Returns whether `address` is in one of `networks`.
pub fn is_in_any(address: IpAddr, networks: &[IpNetwork]) -> bool {
    networks.iter().any(|network| network.contains(address))
}

/// Finds the address of the client that sent a request.
///
/// `peer` is the address of the socket the request arrived on. When the peer is not a trusted
/// proxy, it is the client, and `forwarded_for` is ignored because anyone can send that header.
/// When the peer is a trusted proxy, the `X-Forwarded-For` entries (`forwarded_for` contains the
/// header's values in the order received) are read from the right, where each proxy appends the
/// address it received the request from. The first entry that is not itself a trusted proxy is
/// the client. When every entry is a trusted proxy, the left-most entry is the client.
///
/// An entry that is not an address ends the walk: the client is then the last trusted hop read,
/// because the text to its left came from a party that cannot be trusted to name itself.
pub fn resolve_client_address(peer: IpAddr, forwarded_for: &[&str], trusted_proxies: &[IpNetwork]) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_in_any(peer, trusted_proxies) {
        return peer;
    }
    let entries: Vec<&str> = forwarded_for
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(address) = parse_forwarded_address(entry) else {
            return client;
        };
        client = address;
        if !is_in_any(address, trusted_proxies) {
            return address;
        }
    }
    client
}

/// Parses one `X-Forwarded-For` entry: an address, optionally with a port (`10.1.2.3:5678`,
/// `[2001:db8::1]:443`), or an IPv6 address in brackets. Returns the canonical address.
pub fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let address = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse::<IpAddr>().ok())?;
    Some(address.to_canonical())
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    fn network(text: &str) -> IpNetwork {
        text.parse().unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    fn address(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    #[test]
    fn cidr_and_bare_addresses_parse() {
        assert_eq!(network("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(network(" 2001:db8::/32 ").to_string(), "2001:db8::/32");
        assert_eq!(network("192.0.2.7").to_string(), "192.0.2.7/32");
        assert_eq!(network("2001:db8::1").to_string(), "2001:db8::1/128");
        assert_eq!(network("0.0.0.0/0").prefix_len(), 0);
    }

    #[test]
    fn malformed_networks_are_rejected() {
        for text in
            ["", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/+8", "10.0.0/8", "2001:db8::/129", "example.org", "10.0.0.0/8/8"]
        {
            assert_eq!(text.parse::<IpNetwork>(), Err(NetworkParseError::Invalid(text.to_owned())), "{text:?}");
        }
    }

    #[test]
    fn host_bits_after_the_prefix_are_rejected() {
        let error = "10.1.2.3/8".parse::<IpNetwork>().unwrap_err();
        assert_eq!(
            error,
            NetworkParseError::HostBitsSet { text: "10.1.2.3/8".to_owned(), network: "10.0.0.0/8".to_owned() }
        );
        assert!(error.to_string().contains("10.0.0.0/8"), "{error}");
    }

    #[test]
    fn mapped_ipv4_addresses_match_ipv4_networks() {
        assert!(network("10.0.0.0/8").contains(address("::ffff:10.1.2.3")));
        assert!(!network("10.0.0.0/8").contains(address("::ffff:11.1.2.3")));
    }

    #[test]
    fn empty_allow_list_permits_everyone() {
        let list = AllowList::default();
        assert!(list.is_unrestricted());
        assert!(list.permits(address("203.0.113.9")));
        assert!(list.permits(address("2001:db8::9")));
    }

    #[test]
    fn allow_list_permits_only_its_networks() {
        let list = AllowList::parse(&["10.0.0.0/8", "2001:db8::/32"]).unwrap();
        assert!(list.permits(address("10.200.0.1")));
        assert!(list.permits(address("2001:db8:1::1")));
        assert!(!list.permits(address("127.0.0.1")));
        assert!(!list.permits(address("2001:db9::1")));
    }

    #[test]
    fn allow_list_is_sorted_without_duplicates() {
        let list = AllowList::parse(&["2001:db8::/32", "10.0.0.0/8", "10.0.0.0/8"]).unwrap();
        let displayed: Vec<String> = list.networks().iter().map(ToString::to_string).collect();
        assert_eq!(displayed, ["10.0.0.0/8", "2001:db8::/32"]);
    }

    #[test]
    fn allow_list_names_the_first_bad_entry() {
        let error = AllowList::parse(&["10.0.0.0/8", "not-a-network"]).unwrap_err();
        assert_eq!(error, NetworkParseError::Invalid("not-a-network".to_owned()));
    }

    #[test]
    fn allow_list_has_a_maximum_size() {
        let texts: Vec<String> =
            (0..=MAX_ALLOWED_NETWORKS).map(|index| format!("10.0.{}.{}", index / 256, index % 256)).collect();
        assert_eq!(AllowList::parse(&texts), Err(NetworkParseError::TooMany(MAX_ALLOWED_NETWORKS + 1)));
    }

    #[test]
    fn forwarded_entries_may_carry_ports_and_brackets() {
        assert_eq!(parse_forwarded_address("10.1.2.3"), Some(address("10.1.2.3")));
        assert_eq!(parse_forwarded_address("10.1.2.3:5678"), Some(address("10.1.2.3")));
        assert_eq!(parse_forwarded_address("[2001:db8::1]:443"), Some(address("2001:db8::1")));
        assert_eq!(parse_forwarded_address("[2001:db8::1]"), Some(address("2001:db8::1")));
        assert_eq!(parse_forwarded_address("::ffff:10.1.2.3"), Some(address("10.1.2.3")));
        assert_eq!(parse_forwarded_address("unknown"), None);
    }

    #[test]
    fn untrusted_peer_is_the_client() {
        let trusted = [network("127.0.0.1")];
        assert_eq!(resolve_client_address(address("192.0.2.1"), &["10.1.2.3"], &trusted), address("192.0.2.1"));
    }

    #[test]
    fn trusted_peer_passes_on_the_forwarded_client() {
        let trusted = [network("127.0.0.1")];
        assert_eq!(resolve_client_address(address("127.0.0.1"), &["10.1.2.3"], &trusted), address("10.1.2.3"));
    }

    #[test]
    fn client_is_the_rightmost_untrusted_entry() {
        let trusted = [network("127.0.0.1"), network("172.16.0.0/12")];
        // The client wrote a fake first entry; the proxies appended the real hops after it.
        let forwarded = ["6.6.6.6, 10.1.2.3", "172.16.0.5"];
        assert_eq!(resolve_client_address(address("127.0.0.1"), &forwarded, &trusted), address("10.1.2.3"));
    }

    #[test]
    fn every_entry_trusted_gives_the_leftmost() {
        let trusted = [network("172.16.0.0/12"), network("127.0.0.1")];
        let forwarded = ["172.16.0.9, 172.16.0.5"];
        assert_eq!(resolve_client_address(address("127.0.0.1"), &forwarded, &trusted), address("172.16.0.9"));
    }

    #[test]
    fn trusted_peer_without_header_is_the_client() {
        let trusted = [network("127.0.0.1")];
        assert_eq!(resolve_client_address(address("127.0.0.1"), &[], &trusted), address("127.0.0.1"));
    }

    #[test]
    fn unreadable_entry_stops_at_the_last_trusted_hop() {
        let trusted = [network("127.0.0.1"), network("172.16.0.0/12")];
        let forwarded = ["10.1.2.3, garbage, 172.16.0.5"];
        assert_eq!(resolve_client_address(address("127.0.0.1"), &forwarded, &trusted), address("172.16.0.5"));
    }

    fn any_address() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|bits| IpAddr::V4(Ipv4Addr::from(bits))),
            any::<u128>().prop_map(|bits| IpAddr::V6(Ipv6Addr::from(bits))),
        ]
    }

    fn any_network() -> impl Strategy<Value = IpNetwork> {
        (any_address(), any::<u8>()).prop_map(|(address, prefix)| {
            let max = if address.is_ipv4() { 32 } else { 128 };
            let network = IpNet::new(address, prefix % (max + 1)).unwrap_or_else(|_| unreachable!("prefix in range"));
            IpNetwork(network.trunc())
        })
    }

    /// Returns the address as a number and its width in bits.
    fn bits(address: IpAddr) -> (u128, u8) {
        match address {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        }
    }

    proptest! {
        #[test]
        fn displayed_network_parses_back(network in any_network()) {
            prop_assert_eq!(network.to_string().parse::<IpNetwork>(), Ok(network));
        }

        #[test]
        fn bare_address_is_a_single_address_network(address in any_address()) {
            let parsed: IpNetwork = address.to_string().parse().unwrap();
            prop_assert!(parsed.contains(address));
            prop_assert_eq!(parsed.prefix_len(), bits(address).1);
        }

        #[test]
        fn containment_matches_the_prefix_bits(network in any_network(), address in any_address()) {
            let (network_bits, width) = bits(network.address());
            let (address_bits, address_width) = bits(address.to_canonical());
            let prefix = u32::from(network.prefix_len());
            let shift = u32::from(width) - prefix;
            let same_prefix = width == address_width
                && (prefix == 0 || network_bits.checked_shr(shift).unwrap_or(0) == address_bits.checked_shr(shift).unwrap_or(0));
            prop_assert_eq!(network.contains(address.to_canonical()), same_prefix);
        }

        #[test]
        fn parsing_any_text_never_panics(text in ".{0,60}") {
            let _ = text.parse::<IpNetwork>();
            let _ = parse_forwarded_address(&text);
        }

        #[test]
        fn allow_list_permits_what_a_network_contains(
            networks in proptest::collection::vec(any_network(), 0..6),
            address in any_address(),
        ) {
            let list = AllowList::new(networks.clone()).unwrap();
            let expected = networks.is_empty() || networks.iter().any(|network| network.contains(address));
            prop_assert_eq!(list.permits(address), expected);
        }

        #[test]
        fn forwarded_header_from_an_untrusted_peer_changes_nothing(
            peer in any_address(),
            forwarded in proptest::collection::vec(any_address(), 0..4),
            trusted in proptest::collection::vec(any_network(), 0..4),
        ) {
            prop_assume!(!is_in_any(peer, &trusted));
            let texts: Vec<String> = forwarded.iter().map(ToString::to_string).collect();
            let values: Vec<&str> = texts.iter().map(String::as_str).collect();
            prop_assert_eq!(resolve_client_address(peer, &values, &trusted), peer.to_canonical());
        }

        #[test]
        fn trusted_peer_yields_the_rightmost_untrusted_hop(
            forwarded in proptest::collection::vec(any_address(), 0..5),
            trusted in proptest::collection::vec(any_network(), 1..4),
        ) {
            let peer = trusted[0].address();
            let texts: Vec<String> = forwarded.iter().map(ToString::to_string).collect();
            let values: Vec<&str> = texts.iter().map(String::as_str).collect();
            let expected = forwarded
                .iter()
                .rev()
                .map(|address| address.to_canonical())
                .find(|address| !is_in_any(*address, &trusted))
                .or_else(|| forwarded.first().map(|address| address.to_canonical()))
                .unwrap_or(peer.to_canonical());
            prop_assert_eq!(resolve_client_address(peer, &values, &trusted), expected);
        }
    }
}

#[cfg(test)]
mod service_tests {
    use std::net::IpAddr;
    use std::sync::Arc;

    use crate::DomainError;
    use crate::auth::TokenKey;
    use crate::ids::LeadProviderId;
    use crate::service::TokenService;
    use crate::testing::{FixedClock, MemoryStore, block_on, june, lead_provider};

    use super::AllowList;

    fn service() -> (TokenService<Arc<MemoryStore>, FixedClock>, LeadProviderId) {
        let provider = lead_provider("Teach First");
        let id = provider.id;
        let store = Arc::new(MemoryStore { providers: vec![provider], ..MemoryStore::default() });
        let key = TokenKey::derive(&[4u8; 32]).unwrap_or_else(|error| panic!("{error}"));
        (TokenService::new(store, key, FixedClock(june(1, 9))), id)
    }

    fn address(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn provider_without_allow_list_is_reachable_from_anywhere() {
        let (service, provider) = service();
        assert_eq!(block_on(service.check_client_address(provider, address("203.0.113.1"))), Ok(()));
        assert_eq!(block_on(service.check_client_address(provider, None)), Ok(()));
    }

    #[test]
    fn restricted_provider_refuses_outside_addresses() {
        let (service, provider) = service();
        let list = AllowList::parse(&["10.0.0.0/8"]).unwrap();
        block_on(service.set_allowed_networks(provider, list.clone())).unwrap();
        assert_eq!(block_on(service.allowed_networks(provider)), Ok(list));
        assert_eq!(block_on(service.check_client_address(provider, address("10.1.2.3"))), Ok(()));
        assert_eq!(
            block_on(service.check_client_address(provider, address("127.0.0.1"))),
            Err(DomainError::AddressNotAllowed(address("127.0.0.1")))
        );
        assert_eq!(block_on(service.check_client_address(provider, None)), Err(DomainError::AddressNotAllowed(None)));
    }

    #[test]
    fn clearing_the_allow_list_lifts_the_restriction() {
        let (service, provider) = service();
        block_on(service.set_allowed_networks(provider, AllowList::parse(&["10.0.0.0/8"]).unwrap())).unwrap();
        block_on(service.set_allowed_networks(provider, AllowList::default())).unwrap();
        assert_eq!(block_on(service.check_client_address(provider, address("127.0.0.1"))), Ok(()));
    }

    #[test]
    fn unknown_provider_has_no_allow_list() {
        let (service, _) = service();
        let unknown = LeadProviderId::new_random();
        assert_eq!(block_on(service.allowed_networks(unknown)), Err(DomainError::NotFound));
        assert_eq!(block_on(service.set_allowed_networks(unknown, AllowList::default())), Err(DomainError::NotFound));
    }
}
