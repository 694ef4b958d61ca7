//! `kelp accounts [list | switch NAME | remove NAME]`: the logins kelp keeps, one in use.

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use kelp::auth::SignedOut;
use kelp::auth::accounts::LoginRemoved;
use kelp::config::Config;
use kelp::protocol::LoginRow;
use kelp::terminal_text::printable;

use super::auth_cmd::{accounts as account_service, with_runtime};
use super::common::{exit, fail};

#[derive(Debug, Subcommand)]
pub(super) enum AccountsCommand {
    /// List the logins, the one in use first (the default).
    List {
        /// One JSON array instead of the lines (never a token).
        #[arg(long)]
        json: bool,
    },
    /// Put the login NAME in use: requests from now on carry it, in every kelp. The one in
    /// use before is kept; nothing is revoked.
    Switch { name: String },
    /// Remove the login NAME: revoked (best effort) and forgotten. The one in use is signed
    /// out of, as `kelp logout`.
    Remove { name: String },
}

/// `kelp accounts`.
pub(super) fn accounts(config: &Config, command: Option<AccountsCommand>) -> ExitCode {
    let command = command.unwrap_or(AccountsCommand::List { json: false });
    with_runtime(|| async move {
        let (service, _) = match account_service(config) {
            Ok(service) => service,
            Err(e) => return fail(exit::FAILURE, &e),
        };
        match command {
            AccountsCommand::List { json } => match service.logins().await {
                Ok(logins) if json => {
                    let listed: Vec<_> = logins.iter().map(as_json).collect();
                    println!("{}", serde_json::Value::Array(listed));
                    ExitCode::SUCCESS
                }
                Ok(logins) if logins.is_empty() => {
                    println!("No login kept. Run `kelp login`.");
                    ExitCode::SUCCESS
                }
                Ok(logins) => {
                    for login in &logins {
                        println!("{}", line(login));
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(exit::FAILURE, &e.to_string()),
            },
            AccountsCommand::Switch { name } => match service.switch_login(&name).await {
                Ok(login) => {
                    println!(
                        "Now using {} ({}); the others stay kept.",
                        printable(&login.name),
                        login.who.describe()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(exit::USAGE, &e.to_string()),
            },
            AccountsCommand::Remove { name } => match service.remove_login(&name).await {
                Ok(LoginRemoved::Kept { revoked }) => {
                    if let Some(Err(why)) = revoked {
                        eprintln!("kelp: could not revoke it ({why}); forgetting it anyway");
                    }
                    println!("Removed {}.", printable(&name));
                    ExitCode::SUCCESS
                }
                Ok(LoginRemoved::SignedOut(SignedOut::Stored(report))) => {
                    if let Some(Err(why)) = report.revoked {
                        eprintln!("kelp: could not revoke it ({why}); removing it anyway");
                    }
                    println!(
                        "Signed out of {}, the login in use; `kelp accounts switch NAME` puts \
                         another in use.",
                        printable(&name)
                    );
                    ExitCode::SUCCESS
                }
                Ok(LoginRemoved::SignedOut(SignedOut::HostTokens)) => ExitCode::SUCCESS,
                Err(e) => fail(exit::USAGE, &e.to_string()),
            },
        }
    })
}

fn line(login: &LoginRow) -> String {
    let mark = if login.active { "*" } else { " " };
    let when = if login.active {
        "in use".to_string()
    } else {
        last_used(login.last_used_secs)
    };
    format!(
        "{mark} {:<20} {:<40} {when}",
        printable(&login.name),
        login.who.describe()
    )
}

fn last_used(at_secs: i64) -> String {
    let now = kelp::auth::oauth::now_ms() / 1000;
    match u64::try_from(now.saturating_sub(at_secs)) {
        Ok(secs) if at_secs > 0 => format!(
            "used {} ago",
            kelp::humanize::duration_words(Duration::from_secs(secs))
        ),
        _ => String::new(),
    }
}

fn as_json(login: &LoginRow) -> serde_json::Value {
    let (kind, email, plan, account_id, masked) = match &login.who {
        kelp::protocol::AuthSummary::ChatGpt(account) => (
            "chatgpt",
            account.email.clone(),
            account.plan.clone(),
            account.account_id.clone(),
            None,
        ),
        kelp::protocol::AuthSummary::ApiKey { masked } => {
            ("apiKey", None, None, None, Some(masked.clone()))
        }
    };
    serde_json::json!({
        "name": login.name,
        "active": login.active,
        "type": kind,
        "email": email,
        "plan": plan,
        "accountId": account_id,
        "apiKey": masked,
        "lastUsedAt": login.last_used_secs,
    })
}
