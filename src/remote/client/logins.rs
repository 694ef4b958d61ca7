//! `/account` on a server: the logins it keeps (`accountSession/list`), and a switch to one
//! (`accountSession/switch`), which every thread there uses from its next request.

use std::collections::HashMap;

use serde_json::Value;

use super::{Asked, Remote, decode};
use crate::protocol::{Account, AuthSummary, Event, LoginRow, Reply};
use crate::wire::{
    AccountSessions, AccountSessionsListParams, AccountSessionsSwitchParams, requests,
};

impl Remote {
    /// Asks the server for the logins it keeps.
    pub(super) fn list_logins(&mut self) {
        self.request(&AccountSessionsListParams::default(), Asked::Logins);
    }

    /// Switches the server to the login `name`, by the workspace its last list gave it.
    pub(super) fn switch_login(&mut self, name: String) {
        let Some(account_id) = self.login_workspaces.get(&name).cloned() else {
            let listed: Vec<&str> = self.login_workspaces.keys().map(String::as_str).collect();
            self.emit(Event::Error(format!(
                "the server keeps no ChatGPT login named {name:?} (it keeps: {}); /account \
                 lists them",
                if listed.is_empty() {
                    "none listed yet".to_string()
                } else {
                    listed.join(", ")
                }
            )));
            return;
        };
        let params = AccountSessionsSwitchParams {
            session_id: name.clone(),
            account_id,
            allow_browser_login: None,
        };
        self.request(&params, Asked::LoginSwitched(name));
    }

    /// The server's logins, as `/account` lists them.
    pub(super) fn logins_listed(&mut self, result: Value) {
        let Some(sessions) = decode::<AccountSessions>(result) else {
            return;
        };
        self.login_workspaces = HashMap::new();
        let rows = sessions
            .sessions
            .into_iter()
            .map(|session| {
                if let Some(workspace) = session.selected_workspace_account_id.clone() {
                    self.login_workspaces
                        .insert(session.session_id.clone(), workspace);
                }
                LoginRow {
                    name: session.session_id,
                    active: session.is_active,
                    who: AuthSummary::ChatGpt(Account {
                        email: session.email,
                        plan: None,
                        account_id: session.selected_workspace_account_id,
                    }),
                    last_used_secs: session.last_used_at,
                }
            })
            .collect();
        self.emit(Event::Reply(Reply::Logins(rows)));
    }

    /// The server switched: who is signed in there now, and its models.
    pub(super) fn login_switched(&mut self, result: Value) {
        self.logins_listed(result);
        let asked = Asked::Account { login_done: false };
        self.request(&requests::AccountReadParams::default(), asked);
        self.request(&requests::ModelListParams::default(), Asked::Models);
    }
}
