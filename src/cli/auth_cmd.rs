//! `kelp login`, `kelp logout`, `kelp auth status`.

use std::io::Read;
use std::process::ExitCode;

use kelp::auth::{self, AuthManager, AuthStore, CredentialSource, OpenAiEntry};
use kelp::config::Config;

use super::{exit, fail};

/// `kelp login`.
pub fn login(config: &Config, with_api_key: bool) -> ExitCode {
    if !with_api_key {
        return fail(
            exit::USAGE,
            "ChatGPT login is not available yet: pipe an API key to `kelp login --with-api-key`",
        );
    }
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        return fail(
            exit::FAILURE,
            &format!("cannot read the API key from stdin: {e}"),
        );
    }
    let key = match auth::validate_api_key(&input) {
        Ok(key) => key,
        Err(why) => return fail(exit::USAGE, why),
    };
    let store = AuthStore::new(&config.auth_file);
    let entry = OpenAiEntry::Api { key: key.clone() };
    match store.update(|file| file.set_openai(&entry)) {
        Ok(()) => {
            println!(
                "Logged in with API key {} (saved to {})",
                auth::mask_key(&key),
                store.path().display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(exit::FAILURE, &e.to_string()),
    }
}

/// `kelp logout`.
pub fn logout(config: &Config) -> ExitCode {
    let store = AuthStore::new(&config.auth_file);
    match store.update(|file| file.remove_openai()) {
        Ok(true) => {
            println!(
                "Logged out (removed the openai entry from {}).",
                store.path().display()
            );
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!(
                "Not logged in; nothing to remove from {}.",
                store.path().display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(exit::FAILURE, &e.to_string()),
    }
}

/// `kelp auth status`.
pub fn status(config: &Config) -> ExitCode {
    let manager = AuthManager::new(config, std::env::var("OPENAI_API_KEY").ok());
    let file = manager.store().path().display().to_string();
    match manager.resolve() {
        Ok(Some((credential, source))) => {
            match (credential, source) {
                (auth::Credential::ApiKey { key }, CredentialSource::AuthFile) => {
                    println!("Logged in with API key {}", auth::mask_key(&key));
                }
                (auth::Credential::ApiKey { key }, CredentialSource::Environment) => {
                    println!("Using API key {} from OPENAI_API_KEY", auth::mask_key(&key));
                }
                (auth::Credential::ChatGpt { account_id, .. }, _) => {
                    println!("Logged in with ChatGPT");
                    if let Some(id) = account_id {
                        println!("Account:   {id}");
                    }
                }
            }
            println!("Auth file: {file}");
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("Not logged in. Run `kelp login`, or set OPENAI_API_KEY.");
            println!("Auth file: {file}");
            ExitCode::from(exit::FAILURE)
        }
        Err(e) => fail(exit::FAILURE, &e.to_string()),
    }
}
