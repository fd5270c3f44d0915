//! SIGINT/SIGTERM/SIGHUP -> the daemon's channel. The first SIGINT or SIGTERM asks for a
//! graceful stop (the step in flight finishes, logs are flushed); a second SIGINT exits at
//! once, which is safe because every apply runs in a transaction.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::UnboundedSender;

use super::Msg;

/// Installs the handlers and forwards signals as messages.
pub fn start(tx: UnboundedSender<Msg>) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        let mut interrupts = 0;
        loop {
            let msg = tokio::select! {
                _ = term.recv() => Msg::Stop("SIGTERM"),
                _ = int.recv() => {
                    interrupts += 1;
                    if interrupts > 1 {
                        eprintln!("second SIGINT: exiting now");
                        std::process::exit(130);
                    }
                    Msg::Stop("SIGINT")
                }
                _ = hup.recv() => Msg::Reload,
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
    Ok(())
}
