//! Model providers as Codex reads them, over real sockets: a second fake OpenAI server plays
//! the custom provider (Azure, a company proxy, a local server) while the first holds kelp's
//! own login, so a test sees what reached each, and that kelp's login never reached the other.

use std::process::{Command, Output};

use crate::fake_openai::{Config as FakeConfig, FakeOpenAi, Reply};
use crate::llm_stream::{Login, write_login};
use crate::support::{kelp, run_with_stdin, shown};

/// The provider's own key, which only it accepts.
const PROVIDER_KEY: &str = "sk-provider-only-0000000000000000wxyz";

/// The two servers: `openai` holds kelp's ChatGPT login (and its API key is in the
/// environment), `provider` is the custom one.
struct Servers {
    openai: FakeOpenAi,
    provider: FakeOpenAi,
    home: tempfile::TempDir,
    project: tempfile::TempDir,
}

impl Servers {
    async fn start(provider: FakeConfig) -> Self {
        let servers = Self {
            openai: FakeOpenAi::start().await,
            provider: FakeOpenAi::start_with(FakeConfig {
                api_key: PROVIDER_KEY.into(),
                ..provider
            })
            .await,
            home: tempfile::tempdir().unwrap(),
            project: tempfile::tempdir().unwrap(),
        };
        write_login(&servers.auth_file(), &servers.openai, Login::ChatGpt);
        servers
    }

    fn auth_file(&self) -> std::path::PathBuf {
        self.home.path().join("auth.json")
    }

    /// `kelp exec` with kelp's login everywhere it could leak from: the auth file, and the
    /// OpenAI key in both variables Codex's exec reads.
    fn exec(&self, args: &[&str]) -> Command {
        let mut cmd = kelp(self.home.path());
        cmd.current_dir(self.project.path())
            .env("KELP_AUTH_ISSUER", self.openai.url())
            .env("KELP_AUTH_FILE", self.auth_file())
            .env("KELP_CODEX_BASE_URL", self.openai.codex_base_url())
            .env("OPENAI_BASE_URL", self.openai.api_base_url())
            .env("OPENAI_API_KEY", self.openai.api_key())
            .env("CODEX_API_KEY", self.openai.api_key())
            .args(["exec", "--skip-git-repo-check"])
            .args(args);
        cmd
    }

    fn config_file(&self, text: &str) {
        let dir = self.home.path().join(".config/kelp");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), text).unwrap();
    }

    /// No request of kelp's went to the OpenAI server, and none the provider got carried
    /// kelp's login.
    fn nothing_leaked(&self) {
        assert!(
            self.openai.requests_to("/responses").is_empty(),
            "kelp's own endpoint was asked"
        );
        let stored: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.auth_file()).unwrap()).unwrap();
        let mut secrets: Vec<String> = ["access", "refresh", "key"]
            .iter()
            .filter_map(|field| stored["openai"][field].as_str().map(str::to_string))
            .collect();
        secrets.push(self.openai.api_key());
        for request in self.provider.requests() {
            for (name, value) in &request.headers {
                assert!(
                    !secrets.iter().any(|secret| value.contains(secret.as_str())),
                    "kelp's login reached the provider in {name}"
                );
            }
        }
    }
}

async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || run_with_stdin(&mut cmd, ""))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_given_inline_gets_its_key_headers_and_query_and_never_kelps_login() {
    let servers = Servers::start(FakeConfig::default()).await;
    let inline = format!(
        "model_providers.azure={{ name = \"Azure OpenAI\", base_url = \"{}\", \
         env_key = \"AZURE_OPENAI_API_KEY\", query_params = {{ api-version = \"2025-04-01-preview\" }}, \
         http_headers = {{ X-Team = \"core\" }}, env_http_headers = {{ X-Trace = \"TRACE_ID\" }} }}",
        servers.provider.api_base_url()
    );
    let mut cmd = servers.exec(&["-c", "model_provider=\"azure\"", "-c", &inline, "say hi"]);
    cmd.env("AZURE_OPENAI_API_KEY", PROVIDER_KEY)
        .env("TRACE_ID", "trace-7");
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("You said: **say hi**"),
        "{}",
        shown(&out)
    );
    let requests = servers.provider.requests_to("/responses");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/v1/responses");
    assert_eq!(
        request.query.as_deref(),
        Some("api-version=2025-04-01-preview")
    );
    let bearer = format!("Bearer {PROVIDER_KEY}");
    assert_eq!(request.header("authorization"), Some(bearer.as_str()));
    assert_eq!(request.header("x-team"), Some("core"));
    assert_eq!(request.header("x-trace"), Some("trace-7"));
    assert!(request.header("chatgpt-account-id").is_none());
    servers.nothing_leaked();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_without_a_key_is_sent_none_and_one_that_asks_for_kelps_login_gets_it() {
    let servers = Servers::start(FakeConfig {
        open_api: true,
        ..FakeConfig::default()
    })
    .await;
    // The stored login is an API key here: the one a provider may ask for.
    write_login(&servers.auth_file(), &servers.openai, Login::ApiKey);
    let base = servers.provider.api_base_url();
    servers.config_file(&format!(
        "model_provider = \"local\"\n\n\
         [model_providers.local]\nname = \"Local server\"\nbase_url = \"{base}\"\n\n\
         [model_providers.proxy]\nname = \"Company proxy\"\nbase_url = \"{base}\"\n\
         requires_openai_auth = true\n"
    ));
    let out = run(servers.exec(&["first"])).await;
    assert!(out.status.success(), "{}", shown(&out));
    let local = servers.provider.requests_to("/responses");
    assert_eq!(local.len(), 1);
    assert_eq!(local[0].header("authorization"), None, "no key is sent");
    servers.nothing_leaked();

    // Its twin: a provider with `requires_openai_auth` is sent kelp's login, and only it.
    let out = run(servers.exec(&["-c", "model_provider=\"proxy\"", "second"])).await;
    assert!(out.status.success(), "{}", shown(&out));
    let proxied = servers.provider.requests_to("/responses");
    assert_eq!(proxied.len(), 2);
    let bearer = format!("Bearer {}", servers.openai.api_key());
    assert_eq!(proxied[1].header("authorization"), Some(bearer.as_str()));
    assert!(servers.openai.requests_to("/responses").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_provider_lacks_is_said_before_anything_is_sent() {
    let servers = Servers::start(FakeConfig::default()).await;
    let base = servers.provider.api_base_url();
    servers.config_file(&format!(
        "[model_providers.azure]\nname = \"Azure\"\nbase_url = \"{base}\"\n\
         env_key = \"AZURE_OPENAI_API_KEY\"\n\
         env_key_instructions = \"Create a key in the Azure portal.\"\n\n\
         [model_providers.old]\nbase_url = \"{base}\"\nwire_api = \"chat\"\n"
    ));
    // The key's variable is not set: the turn fails in Codex's words, with the instructions.
    let out = run(servers.exec(&["-c", "model_provider=\"azure\"", "hi"])).await;
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "Missing environment variable: `AZURE_OPENAI_API_KEY` (the key of model provider \
             `azure`). Create a key in the Azure portal."
        ),
        "{stderr}"
    );
    // A provider kelp cannot talk to, and one that is not there, are refused at start.
    for (name, said) in [
        ("old", "speaks wire_api = \"chat\""),
        ("nowhere", "names no provider"),
    ] {
        let out = run(servers.exec(&["-c", &format!("model_provider=\"{name}\""), "hi"])).await;
        assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(said) && stderr.lines().count() == 1,
            "{stderr}"
        );
    }
    assert!(servers.provider.requests().is_empty());
    servers.nothing_leaked();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_retry_limits_and_idle_timeout_are_its_own() {
    let servers = Servers::start(FakeConfig {
        open_api: true,
        ..FakeConfig::default()
    })
    .await;
    let base = servers.provider.api_base_url();
    servers.config_file(&format!(
        "model_provider = \"local\"\n[model_providers.local]\nbase_url = \"{base}\"\n\
         request_max_retries = 1\nstream_max_retries = 1\nstream_idle_timeout_ms = 300\n"
    ));
    // One retry of a refused request, then the turn fails.
    servers
        .provider
        .push_responses([Reply::server_error(), Reply::server_error()]);
    let out = run(servers.exec(&["--json", "hi"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert_eq!(servers.provider.requests_to("/responses").len(), 2);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r#""type":"turn.failed""#)
            && stdout.contains("could not get an answer after 1 retries"),
        "{stdout}"
    );

    // A stream silent for longer than its 300 ms is cut and asked again, once.
    servers
        .provider
        .push_responses([Reply::stall("waiting"), Reply::text("after the stall")]);
    let out = run(servers.exec(&["again"])).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(servers.provider.requests_to("/responses").len(), 4);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("after the stall"),
        "{}",
        shown(&out)
    );

    // Cut twice: its one stream retry is spent (the default would try five times), and the
    // turn fails.
    servers.provider.push_responses([
        Reply::stall("waiting"),
        Reply::stall("waiting again"),
        Reply::text("never asked for"),
    ]);
    let out = run(servers.exec(&["--json", "once more"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert_eq!(servers.provider.requests_to("/responses").len(), 6);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(r#""type":"turn.failed""#),
        "{}",
        shown(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_status_names_the_provider_and_its_key() {
    let servers = Servers::start(FakeConfig::default()).await;
    let base = servers.provider.api_base_url();
    servers.config_file(&format!(
        "model_provider = \"azure\"\n[model_providers.azure]\nname = \"Azure\"\n\
         base_url = \"{base}\"\nenv_key = \"AZURE_OPENAI_API_KEY\"\n"
    ));
    let status = |key: Option<&str>| {
        let mut cmd = kelp(servers.home.path());
        cmd.args(["auth", "status"]);
        if let Some(key) = key {
            cmd.env("AZURE_OPENAI_API_KEY", key);
        }
        cmd.output().unwrap()
    };
    let out = status(Some(PROVIDER_KEY));
    assert!(out.status.success(), "{}", shown(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!(
            "Provider:  Azure (azure) at {base}, with the key in AZURE_OPENAI_API_KEY"
        )),
        "{said}"
    );
    assert!(!said.contains(PROVIDER_KEY), "{said}");
    let out = status(None);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("AZURE_OPENAI_API_KEY is not set"),
        "{}",
        shown(&out)
    );
}
