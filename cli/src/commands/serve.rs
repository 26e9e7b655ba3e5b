//! `leasehold serve`: the web dashboard over the store, until Ctrl-C.

use leasehold::Queue;
use leasehold_web::Dashboard;

use crate::args::ServeArgs;
use crate::error::CliError;

/// Serves the dashboard on `args.bind` until Ctrl-C (or SIGTERM), then lets the
/// requests in flight finish.
///
/// # Errors
///
/// [`CliError::Io`] when the address cannot be bound or serving fails.
pub(super) async fn run(queue: &Queue, args: &ServeArgs) -> Result<(), CliError> {
    let router = Dashboard::new(queue.clone())
        .read_only(args.read_only)
        .router();
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| CliError::Io(format!("cannot listen on {}: {e}", args.bind)))?;
    let address = listener.local_addr()?;
    let mode = if args.read_only { " (read-only)" } else { "" };
    eprintln!("leasehold dashboard on http://{address}/{mode}; Ctrl-C stops it");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| CliError::Io(format!("serving the dashboard failed: {e}")))?;
    eprintln!("leasehold dashboard stopped");
    Ok(())
}

/// Resolves at Ctrl-C, or at SIGTERM on Unix (how service managers stop a process).
async fn shutdown_signal() {
    let ctrl_c = async {
        // Without a signal handler there is nothing to wait for: serve until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
