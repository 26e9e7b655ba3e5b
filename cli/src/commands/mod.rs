//! The commands, one module per noun, and [`run`], which opens the store and
//! dispatches.
//!
//! - `jobs`: list (keyset pages), show, retry / cancel / delete by id or in bulk.
//! - `queues`: stats per queue, pause, resume.
//! - `schedules`: next fire times, pause, resume, trigger.
//! - `limits`: flow-control limits per key or queue: list, set, remove.
//! - `maintenance`: stats over all queues, prune, migrate.
//! - `serve`: the web dashboard.

mod jobs;
mod limits;
mod maintenance;
mod queues;
mod schedules;
mod serve;

use crate::args::{Cli, Command};
use crate::error::CliError;
use crate::open::{Create, open};

/// Runs the command `cli` asks for.
///
/// # Errors
///
/// The command's error, which decides the exit code.
pub(crate) async fn run(cli: Cli) -> Result<(), CliError> {
    let global = &cli.global;
    if let Command::Migrate(args) = &cli.command
        && args.print
    {
        // Prints without connecting: the database may not be reachable from here.
        return maintenance::print_migrations(global, args);
    }
    let create = match cli.command {
        Command::Migrate(_) => Create::Allowed,
        _ => Create::Refused,
    };
    let opened = open(global, create).await?;
    let json = global.json;
    let result = match cli.command {
        Command::Jobs(command) => jobs::run(&opened.queue, command, json).await,
        Command::Queues(command) => queues::run(&opened.queue, command, json).await,
        Command::Schedules(command) => schedules::run(&opened.queue, command, json).await,
        Command::Limits(command) => limits::run(&opened.queue, command, json).await,
        Command::Stats => maintenance::stats(&opened.queue, json).await,
        Command::Prune(args) => maintenance::prune(&opened.queue, &args, json).await,
        Command::Migrate(_) => maintenance::migrate(&opened, global, json).await,
        Command::Serve(args) => serve::run(&opened.queue, &args).await,
    };
    opened.close().await;
    result
}
