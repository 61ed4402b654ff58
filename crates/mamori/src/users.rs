//! `mamori users`, `mamori tokens`, `mamori agents`: local users with roles, bearer tokens for
//! automation and SCIM, and agent enrolment (docs/auth.md). Secrets are printed once, as the
//! last line of standard output, and only their hashes are stored; every change is recorded in
//! the access log.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use mamori_store::auth::{Owner, Role, Scope, TokenInfo};
use serde_json::json;

use crate::BadInput;
use crate::cases::{Session, now_us, timestamp, user_error};

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Add a user; prints a one-time password that must be changed at first login.
    Add {
        name: String,
        /// admin, analyst, investigator, approver, auditor or employee.
        #[arg(long)]
        role: String,
    },
    /// List users (never their passwords).
    List,
}

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Create a bearer token for a user; prints it as the last line (only its hash is kept).
    Create {
        #[arg(long)]
        user: String,
        /// `api` (the JSON API with the user's role) or `scim` (provisioning).
        #[arg(long, default_value = "api")]
        scope: String,
        /// Days until it expires (default: never).
        #[arg(long)]
        days: Option<u32>,
    },
    /// List tokens (ids, owners, scopes, expiry; never the secrets).
    List,
    /// Revoke a token by its id.
    Revoke { id: String },
}

#[derive(Subcommand)]
pub enum AgentsCommand {
    /// Enrol an agent or forwarder: prints its ingest token as the last line.
    Enroll {
        name: String,
        /// Days until the token expires (default: never).
        #[arg(long)]
        days: Option<u32>,
    },
}

pub fn users(data_dir: &Path, command: UsersCommand, json: bool) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(data_dir)?;
    match command {
        UsersCommand::Add { name, role } => {
            let role = Role::parse(&role).ok_or_else(|| {
                BadInput(format!(
                    "--role {role:?}: expected one of {}",
                    Role::ALL.map(Role::as_str).join(", ")
                ))
            })?;
            let password = session
                .store()
                .add_user(&name, role, now_us())
                .map_err(user_error)?;
            session.record("users.add", &format!("{name} ({})", role.as_str()))?;
            print_secret(
                json,
                json!({"user": name, "role": role, "password": password}),
                &format!(
                    "user {name} ({}) added; one-time password, to be changed at first login:",
                    role.as_str()
                ),
                &password,
            );
        }
        UsersCommand::List => {
            let users = session.store().users()?;
            session.record("users.list", "all")?;
            if json {
                println!("{}", serde_json::to_string(&users)?);
            } else {
                for user in users {
                    let mut notes = Vec::new();
                    if user.must_change_password {
                        notes.push("one-time password");
                    }
                    if user.locked_until_us.is_some_and(|until| until > now_us()) {
                        notes.push("locked");
                    }
                    println!(
                        "{}\t{}\t{}",
                        user.name,
                        user.role.as_str(),
                        notes.join(", ")
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn tokens(data_dir: &Path, command: TokensCommand, json: bool) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(data_dir)?;
    match command {
        TokensCommand::Create { user, scope, days } => {
            let scope = match Scope::parse(&scope) {
                Some(scope @ (Scope::Api | Scope::Scim)) => scope,
                _ => {
                    return Err(BadInput(format!(
                        "--scope {scope:?}: expected api or scim (agents: `mamori agents enroll`)"
                    ))
                    .into());
                }
            };
            let owner = Owner::User(user.clone());
            create(&mut session, &owner, scope, days, json)?;
        }
        TokensCommand::List => {
            let tokens = session.store().tokens()?;
            session.record("tokens.list", "all")?;
            if json {
                println!("{}", serde_json::to_string(&tokens)?);
            } else {
                for token in tokens {
                    println!("{}", describe(&token));
                }
            }
        }
        TokensCommand::Revoke { id } => {
            if !session.store().revoke_token(&id, now_us())? {
                return Err(BadInput(format!("no live token {id:?}")).into());
            }
            session.record("tokens.revoke", &id)?;
            if json {
                println!("{}", json!({"token": id, "revoked": true}));
            } else {
                println!("token {id} revoked");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn agents(data_dir: &Path, command: AgentsCommand, json: bool) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(data_dir)?;
    match command {
        AgentsCommand::Enroll { name, days } => {
            create(&mut session, &Owner::Agent(name), Scope::Ingest, days, json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn create(
    session: &mut Session,
    owner: &Owner,
    scope: Scope,
    days: Option<u32>,
    json: bool,
) -> anyhow::Result<()> {
    let now = now_us();
    let expires_us = days.map(|days| now.saturating_add(i64::from(days) * 86_400_000_000));
    let token = session
        .store()
        .create_token(owner, scope, expires_us, now)
        .map_err(user_error)?;
    let (kind, name) = match owner {
        Owner::User(name) => ("user", name),
        Owner::Agent(name) => ("agent", name),
    };
    session.record(
        "tokens.create",
        &format!("{kind} {name} ({})", scope.as_str()),
    )?;
    let expiry = match expires_us {
        Some(end) => format!("expires {}", timestamp(end)),
        None => "does not expire".into(),
    };
    print_secret(
        json,
        json!({"owner": owner, "scope": scope, "expires_us": expires_us, "token": token}),
        &format!(
            "{} token for {kind} {name}, {expiry}; shown only now:",
            scope.as_str()
        ),
        &token,
    );
    Ok(())
}

/// The secret goes on the last line of standard output, alone, for scripts to take.
fn print_secret(json: bool, value: serde_json::Value, heading: &str, secret: &str) {
    if json {
        println!("{value}");
    } else {
        println!("{heading}");
        println!("{secret}");
    }
}

fn describe(token: &TokenInfo) -> String {
    let owner = match &token.owner {
        Owner::User(name) => format!("user {name}"),
        Owner::Agent(name) => format!("agent {name}"),
    };
    let state = match (token.revoked_us, token.expires_us) {
        (Some(at), _) => format!("revoked {}", timestamp(at)),
        (None, Some(end)) if end <= now_us() => format!("expired {}", timestamp(end)),
        (None, Some(end)) => format!("expires {}", timestamp(end)),
        (None, None) => "no expiry".into(),
    };
    format!("{}\t{owner}\t{}\t{state}", token.id, token.scope.as_str())
}
