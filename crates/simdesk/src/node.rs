//! This process's name among the nodes sharing one database, recorded on the work it completes.

use std::sync::OnceLock;

static NAME: OnceLock<String> = OnceLock::new();

/// Names this process, once, at start-up (from the `node_name` setting); later calls change
/// nothing, so the name on a node's work stays the same for its whole life.
pub fn set_name(name: &str) {
    let _ = NAME.set(name.to_string());
}

/// This process's name: what `set_name` gave, else `<hostname>-<pid>`.
pub fn name() -> &'static str {
    NAME.get_or_init(default_name)
}

/// `<hostname>-<pid>`: tells apart the nodes of one installation, and two runs on one host.
pub fn default_name() -> String {
    let host = hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "simdesk".into());
    format!("{host}-{}", std::process::id())
}

/// The system actor a job acts as on this node: `<job>@<node>`, kept in the history and the
/// audit trail with every change the job makes.
pub fn actor(job: &str) -> String {
    format!("{job}@{}", name())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_name_tells_the_process_apart() {
        let name = super::default_name();
        let host = name
            .strip_suffix(&format!("-{}", std::process::id()))
            .expect("ends with the process id");
        assert!(!host.is_empty(), "{name}");
    }
}
