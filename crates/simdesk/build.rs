//! Rebuilds when a migration or a locale file is added or changed: `sqlx::migrate!` embeds the
//! migrations folder and the Fluent loader embeds every `.ftl` file at compile time.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=locales");
}
