//! Where every HTTP client starts: rustls needs its crypto provider (ring) chosen once per
//! process before a client is built. Below every layer, so auth and llm both use it.

/// A `reqwest` client builder with TLS ready.
pub fn builder() -> reqwest::ClientBuilder {
    static TLS: std::sync::Once = std::sync::Once::new();
    TLS.call_once(|| {
        // Fails only if a provider is already installed, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}
