//! The agent: a conversation, the tool loop, the tools and approvals, behind the `Op`/`Event`
//! channels of [`core`].
pub mod approval;
pub mod compact;
pub mod conversation;
pub mod core;
pub mod instructions;
pub(crate) mod items;
pub mod mentions;
pub mod protocol;
pub mod tools;
pub mod turn;
pub mod turn_context;
