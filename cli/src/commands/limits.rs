//! `leasehold limits`: the stored flow-control limits; set and remove one.

use leasehold::{Limit, LimitScope, Queue};
use serde_json::json;

use crate::args::{LimitScopeArgs, LimitsCommand};
use crate::duration::format_duration;
use crate::error::CliError;
use crate::output::{print_json, print_list, print_text};

/// Runs a `limits` subcommand.
///
/// # Errors
///
/// The store's error; exit 2 for a limit that cannot be stored (a maximum of 0, a
/// rate of 0 starts, neither given), exit 3 for an unknown queue or a limit not
/// stored.
pub(super) async fn run(queue: &Queue, command: LimitsCommand, json: bool) -> Result<(), CliError> {
    match command {
        LimitsCommand::List => list(queue, json).await,
        LimitsCommand::Set {
            scope,
            max_running,
            rate,
        } => {
            let rate = rate
                .map(|(starts, per)| leasehold::Rate::new(starts, per))
                .transpose()?;
            let limit = Limit::new(max_running, rate)?;
            let scope = scope_of(scope);
            queue.set_limit(&scope, limit).await?;
            if json {
                return print_json(&limit_json(&scope, limit));
            }
            print_text(&format!("{scope}: {limit}\n"))
        }
        LimitsCommand::Remove { scope } => {
            let scope = scope_of(scope);
            queue.remove_limit(&scope).await?;
            if json {
                return print_json(
                    &json!({ "scope": scope.kind(), "name": scope.name(), "removed": true }),
                );
            }
            print_text(&format!("removed the limit of {scope}\n"))
        }
    }
}

/// A stored limit as `--json` prints it.
fn limit_json(scope: &LimitScope, limit: Limit) -> serde_json::Value {
    json!({ "scope": scope.kind(), "name": scope.name(), "limit": limit })
}

fn scope_of(args: LimitScopeArgs) -> LimitScope {
    match (args.key, args.queue) {
        (Some(key), _) => LimitScope::Key(key),
        (None, Some(queue)) => LimitScope::Queue(queue),
        (None, None) => unreachable!("clap requires --key or --queue"),
    }
}

async fn list(queue: &Queue, json: bool) -> Result<(), CliError> {
    let limits = queue.limits().await?;
    print_list(
        json,
        || {
            limits
                .iter()
                .map(|(scope, limit)| limit_json(scope, *limit))
                .collect::<Vec<_>>()
        },
        "no limits\n",
        &["SCOPE", "NAME", "MAX RUNNING", "RATE"],
        limits.iter().map(|(scope, limit)| row(scope, *limit)),
    )
}

/// A stored limit's cells in `limits list`.
fn row(scope: &LimitScope, limit: Limit) -> Vec<String> {
    vec![
        scope.kind().to_owned(),
        scope.name().to_owned(),
        limit
            .max_running()
            .map_or("-".to_owned(), |n| n.to_string()),
        limit.rate_limit().map_or("-".to_owned(), |rate| {
            format!("{}/{}", rate.starts(), format_duration(rate.per()))
        }),
    ]
}
