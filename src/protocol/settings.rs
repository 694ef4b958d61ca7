//! The modes and servers a face shows and sets: approvals, the sandbox, a custom prompt, an MCP server's state, how a command reached the network. Plain values; what
//! makes or reads them lives in the floor that does it (`auth`, `llm`, `session`, `config`, `mcp`,
//! `sandbox`).

/// What the kernel sandbox lets a command the model writes touch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SandboxMode {
    /// Read everywhere; write only to the project, the temp dir and kelp's cache.
    #[default]
    WorkspaceWrite,
    /// Read everywhere, write nowhere.
    ReadOnly,
    /// No sandbox: commands run with the user's full rights, guarded by approvals only.
    Off,
}

/// How much the agent may do without asking: Codex's approval policies, and kelp's `auto-edit`
/// between the first two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ApprovalMode {
    /// Codex's `untrusted`: what is known to only read runs; other commands and patches ask.
    #[default]
    Ask,
    /// kelp's own: patches inside the project apply; commands that do more than read ask.
    AutoEdit,
    /// Codex's `on-request`: commands run in the sandbox and patches inside the project apply
    /// without asking; what needs more than the sandbox gives (a command run outside it, a
    /// path outside the project, a protected path) asks.
    FullAuto,
    /// Codex's `never`: as `on-request`, but nothing asks: what would is refused, and the
    /// model is told.
    Never,
}

/// One prompt file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomPrompt {
    /// The command's name: the file's name without `.md`.
    pub name: String,
    /// What the popup says of it: the front matter's `description`, else the body's first line.
    pub description: String,
    /// The front matter's `argument-hint` (`[FILE] [FOCUS]`), when there is one.
    pub argument_hint: Option<String>,
    /// The prompt, front matter left out.
    pub body: String,
}

/// How a command asked to reach a host, as Codex's network approval names the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A plain `http://` request, forwarded.
    Http,
    /// A `CONNECT` tunnel (https, or anything a client tunnels).
    Https,
    /// A SOCKS5 `CONNECT`.
    Socks5,
}

/// A server, as `/mcp` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStatus {
    pub name: String,
    /// `stdio: command args` or `http: url`.
    pub endpoint: String,
    pub state: ServerState,
    /// Tools left out, each with why (a schema the Responses API refuses).
    pub skipped: Vec<String>,
    /// How a server over HTTP is signed in to (`None`: a program kelp starts).
    pub auth: Option<&'static str>,
}

/// Where a server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerState {
    /// `enabled = false`.
    Disabled,
    /// Starting, or started again.
    Starting,
    /// Connected; the names of the tools it offers.
    Ready { tools: Vec<String> },
    /// It did not start, or it stopped; why.
    Failed { reason: String },
}
