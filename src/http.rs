//! Where every HTTP client starts: rustls needs its crypto provider (ring) chosen once per
//! process before a client is built. Below every layer, so auth and llm both use it.

/// A `reqwest` client builder with TLS ready, following redirects only within one origin.
///
/// reqwest drops `Authorization` and cookies on a redirect to another host, but not the other
/// headers a request was given: an MCP server's `http_headers` (API keys by another name) would
/// follow its redirect anywhere. Nothing kelp talks to needs a redirect across origins, so one
/// is not followed: the caller gets the 3xx and says so.
pub fn builder() -> reqwest::ClientBuilder {
    static TLS: std::sync::Once = std::sync::Once::new();
    TLS.call_once(|| {
        // Fails only if a provider is already installed, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same_origin && attempt.previous().len() < MAX_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    }))
}

/// How many redirects within one origin a request follows, as reqwest's default policy.
const MAX_REDIRECTS: usize = 10;
