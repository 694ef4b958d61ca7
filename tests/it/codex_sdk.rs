//! The TypeScript Codex SDK (`@openai/codex-sdk`, installed in `tests/sdk`) drives `kelp exec`
//! with `codexPathOverride` at the built binary: `tests/sdk/drive.mjs` asserts each step
//! (run, a second turn, runStreamed, resumeThread, an output schema, an image, an abort);
//! this test checks what reached the fake server. The same script passes against the real
//! `codex` (see the README's Embedding notes).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::fake_openai::{FakeOpenAi, Scenario};
use crate::llm_stream::{Login, write_login};
use crate::support::{NOWHERE, shown};

/// `tests/sdk`, with its packages installed (`npm ci`, as `.ci/run` does first).
fn sdk_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    if !dir.join("node_modules/@openai/codex-sdk").exists() {
        let out = Command::new("npm")
            .args(["ci", "--omit=optional", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("npm is installed (the SDK test needs node and npm)");
        assert!(out.status.success(), "npm ci in tests/sdk: {}", shown(&out));
    }
    dir
}

/// A 1×1 PNG.
fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
    bytes.extend_from_slice(&[0x90, 0x77, 0x53, 0xde]);
    bytes.extend_from_slice(
        b"\0\0\0\x0cIDATx\x9cc\xf8\xcf\xc0\0\0\x03\x01\x01\0\xc9\xfe\x92\xef\0\0\0\0IEND\xaeB`\x82",
    );
    bytes
}

/// Runs `drive.mjs` against a fake in the `coding` scenario: the fake as OpenAI, or with
/// `inline` as a custom provider the SDK gives inline (a ChatGPT login of kelp's stored
/// beside it, which must not reach it). Returns the fake, once every step passed.
async fn drive(inline: bool) -> FakeOpenAi {
    let sdk = sdk_dir();
    let fake = FakeOpenAi::start().await;
    fake.set_scenario(Scenario::Coding);
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let workdir = project.path().canonicalize().unwrap();
    let image = home.path().join("shot.png");
    std::fs::write(&image, png()).unwrap();
    let mut node = Command::new("node");
    node.arg("drive.mjs")
        .current_dir(&sdk)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .envs(NOWHERE)
        .env("KELP_AUTH_FILE", home.path().join("auth.json"))
        .env("SDK_CODEX_PATH", env!("CARGO_BIN_EXE_kelp"))
        .env("SDK_BASE_URL", fake.api_base_url())
        .env("SDK_WORKDIR", &workdir)
        .env("SDK_IMAGE", &image);
    if inline {
        write_login(&home.path().join("auth.json"), &fake, Login::ChatGpt);
        node.env("SDK_PROVIDER", "inline")
            .env("SDK_PROVIDER_KEY", fake.api_key());
    } else {
        node.env("SDK_API_KEY", fake.api_key());
    }
    let out = tokio::task::spawn_blocking(move || node.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", shown(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    for step in [
        "run",
        "second turn",
        "runStreamed",
        "resumeThread",
        "outputSchema",
        "image",
        "webSearch",
        "abort",
    ] {
        assert!(said.contains(&format!("ok {step}\n")), "{said}");
    }
    assert!(said.ends_with("all passed\n"), "{said}");
    fake
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_codex_sdk_drives_kelp_exec() {
    let fake = drive(false).await;
    // Six turns of three requests, two web searches of one, and the aborted turn's first: all
    // with the SDK's key (the only login there is), base URL and originator.
    let requests = fake.requests_to("/responses");
    assert_eq!(requests.len(), 6 * 3 + 2 + 1);
    for request in &requests {
        assert_eq!(request.path, "/v1/responses");
        let bearer = format!("Bearer {}", fake.api_key());
        assert_eq!(request.header("authorization"), Some(bearer.as_str()));
        assert_eq!(request.header("originator"), Some("codex_sdk_ts"));
    }
    let with_schema: Vec<&Value> = requests
        .iter()
        .map(|r| &r.json()["text"]["format"])
        .filter(|format| !format.is_null())
        .collect();
    assert_eq!(with_schema.len(), 3, "each request of the schema's turn");
    assert_eq!(with_schema[0]["strict"], true);
    assert_eq!(
        with_schema[0]["schema"]["required"],
        serde_json::json!(["summary"])
    );
    let with_image = requests
        .iter()
        .filter(|r| r.body.contains("\"input_image\"") && r.body.contains("data:image/png;base64,"))
        .count();
    assert_eq!(with_image, 3, "the image goes with its turn's requests");
}

/// The SDK's own tests' way in: the fake as a provider given inline (`model_provider` and
/// `model_providers.mock.*`), its key from the variable it names; kelp's stored ChatGPT login
/// never reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_codex_sdk_drives_kelp_exec_against_a_provider_given_inline() {
    let fake = drive(true).await;
    let requests = fake.requests_to("/responses");
    assert_eq!(requests.len(), 6 * 3 + 2 + 1);
    let bearer = format!("Bearer {}", fake.api_key());
    for request in &requests {
        assert_eq!(request.path, "/v1/responses");
        assert_eq!(request.header("authorization"), Some(bearer.as_str()));
        assert!(request.header("chatgpt-account-id").is_none());
    }
    // Live search where the thread asked for it, none where it turned it off.
    let searches: Vec<&Value> = requests
        .iter()
        .filter_map(|r| {
            r.json()["tools"]
                .as_array()?
                .iter()
                .find(|tool| tool["type"] == "web_search")
        })
        .collect();
    assert!(
        searches
            .iter()
            .any(|tool| tool["external_web_access"] == true)
    );
    assert_eq!(
        searches.len(),
        requests.len() - 1,
        "one thread turned it off"
    );
}
