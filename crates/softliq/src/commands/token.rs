//! `softliq token`: a fresh bearer token (128 bits from `rand`'s thread generator, a ChaCha
//! CSPRNG seeded from the operating system, as 32 hex characters), alone or as a tokens-file
//! entry ready to append.

use anyhow::{Result, anyhow};
use softliq_server::{Role, TokenEntry, Tokens};

#[derive(clap::Args)]
pub struct Args {
    /// Print a `[[tokens]]` entry for this role (admin, oracle, account, liquidator, maker).
    #[arg(long, requires = "subject")]
    role: Option<String>,
    /// The entry's subject: who the token acts as (accounts it opens are owned by this name).
    #[arg(long, requires = "role")]
    subject: Option<String>,
}

pub fn run(args: &Args) -> Result<()> {
    let token = super::serve::random_token();
    let (Some(role), Some(subject)) = (&args.role, &args.subject) else {
        println!("{token}");
        return Ok(());
    };
    let roles = [
        Role::Admin,
        Role::Oracle,
        Role::Account,
        Role::Liquidator,
        Role::Maker,
    ];
    let parsed = roles
        .into_iter()
        .find(|r| r.name() == role)
        .ok_or_else(|| {
            anyhow!("--role {role:?}: expected admin, oracle, account, liquidator or maker")
        })?;
    // The same checks as a tokens file gets (reserved subjects, lengths).
    Tokens::new(vec![TokenEntry {
        token: token.clone(),
        role: parsed,
        subject: subject.clone(),
    }])
    .map_err(|e| anyhow!("--subject: {e}"))?;
    println!("[[tokens]]\ntoken = \"{token}\"\nrole = \"{role}\"\nsubject = \"{subject}\"");
    Ok(())
}
