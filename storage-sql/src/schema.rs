//! Refusing, before anything in it changes, a database or schema that is not
//! leasehold's or that a newer leasehold migrated: [`Home`].
//!
//! Each store embeds its migrations and records them in a table of their own,
//! [`MIGRATIONS_TABLE`], so an application's own sqlx migrations never collide with
//! them. Where its tables live (a SQLite database, a PostgreSQL schema) is refused when
//! it holds tables but no migrations table (someone else's), or has applied a migration
//! this build does not know (written by a newer leasehold). The store reads the table
//! names and the applied versions in its dialect, under its lock; the verdict is here.

use std::collections::BTreeSet;
use std::future::Future;

use leasehold::StoreError;

/// The table that records which migrations have been applied.
pub const MIGRATIONS_TABLE: &str = "_leasehold_migrations";

/// Where a store keeps its tables, as its messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    package: &'static str,
    noun: &'static str,
    name: Option<String>,
    own: &'static str,
    known: BTreeSet<i64>,
}

impl Home {
    /// The tables of `package` (`leasehold-sqlite`), kept in a `noun` (`database`),
    /// migrated by this build up to the `known` versions; an application that has its
    /// own tables there should give leasehold `own` (`a database file`) of its own.
    pub fn new(
        package: &'static str,
        noun: &'static str,
        own: &'static str,
        known: impl IntoIterator<Item = i64>,
    ) -> Self {
        Self {
            package,
            noun,
            name: None,
            own,
            known: known.into_iter().collect(),
        }
    }

    /// The same, in the `noun` called `name` (the schema `jobs`).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Checks what is there before anything changes: the names of its `tables`, then,
    /// when it is leasehold's, the versions `applied` reads from [`MIGRATIONS_TABLE`]
    /// (not called for a new, empty home).
    ///
    /// # Errors
    ///
    /// `Incompatible` when there are tables but no [`MIGRATIONS_TABLE`] (naming the
    /// tables) or an applied version is newer than this build ([`Home::newer`]); the
    /// errors of `applied`.
    pub async fn check<F, Applied>(&self, tables: &[String], applied: F) -> Result<(), StoreError>
    where
        F: FnOnce() -> Applied,
        Applied: Future<Output = Result<Vec<i64>, StoreError>>,
    {
        if !self.check_tables(tables)? {
            return Ok(());
        }
        let applied = applied().await?;
        match applied.iter().filter(|v| !self.known.contains(v)).max() {
            Some(newer) => Err(self.newer(*newer)),
            None => Ok(()),
        }
    }

    /// `Ok(false)` for no tables (a new home), `Ok(true)` for leasehold's.
    fn check_tables(&self, tables: &[String]) -> Result<bool, StoreError> {
        if tables.is_empty() {
            return Ok(false);
        }
        if tables.iter().any(|t| t == MIGRATIONS_TABLE) {
            return Ok(true);
        }
        let subject = match &self.name {
            Some(name) => format!("{} {name:?} is ", self.noun),
            None => String::new(),
        };
        Err(StoreError::Incompatible(format!(
            "{subject}not a leasehold {}: it holds tables ({}) but no {MIGRATIONS_TABLE} \
             table; give leasehold {} of its own",
            self.noun,
            tables.join(", "),
            self.own
        )))
    }

    /// The error for schema `version`, which this build does not know.
    pub fn newer(&self, version: i64) -> StoreError {
        let package = self.package;
        StoreError::Incompatible(format!(
            "{} has schema version {version}, written by a newer {package}; this build knows \
             versions up to {}: upgrade {package} or use another {}",
            self.subject(),
            self.known.last().copied().unwrap_or(0),
            self.noun
        ))
    }

    /// The error for migration `version`, applied there with other contents than this
    /// build's.
    pub fn mismatch(&self, version: i64) -> StoreError {
        StoreError::Incompatible(format!(
            "schema migration {version} of this {} differs from this build's: it was written \
             by a different {}",
            self.noun, self.package
        ))
    }

    /// How a message starts to name it: `the database`, `schema "jobs"`.
    fn subject(&self) -> String {
        match &self.name {
            Some(name) => format!("{} {name:?}", self.noun),
            None => format!("the {}", self.noun),
        }
    }
}

/// One embedded migration, as [`migration_script`] writes it out.
#[derive(Debug, Clone, Copy)]
pub struct ScriptMigration<'a> {
    /// Its version (the number its file name starts with).
    pub version: i64,
    /// Its description (the rest of its file name).
    pub description: &'a str,
    /// Its SQL.
    pub sql: &'a str,
    /// The checksum sqlx records for it.
    pub checksum: &'a [u8],
}

impl<'a> ScriptMigration<'a> {
    /// Migration `version` with its `description`, `sql` and sqlx `checksum`.
    pub fn new(version: i64, description: &'a str, sql: &'a str, checksum: &'a [u8]) -> Self {
        Self {
            version,
            description,
            sql,
            checksum,
        }
    }
}

/// What a dialect writes differently in a [`migration_script`].
#[derive(Debug, Clone, Copy)]
pub struct ScriptDialect {
    /// The column `installed_on` of [`MIGRATIONS_TABLE`]: its type and default.
    pub installed_on: &'static str,
    /// The type of its column `checksum`.
    pub checksum_type: &'static str,
    /// A checksum, given in hex digits, as a literal of that type.
    pub checksum_literal: fn(&str) -> String,
}

/// The SQL of `migrations`, in order, after `head`, then the statements that record
/// them in [`MIGRATIONS_TABLE`] as sqlx does (so a store connecting later finds them
/// applied): one script for an application's own migration tool.
pub fn migration_script<'a>(
    head: &str,
    dialect: ScriptDialect,
    migrations: impl Iterator<Item = ScriptMigration<'a>> + Clone,
) -> String {
    let mut script = head.to_owned();
    for m in migrations.clone() {
        script.push_str(&format!(
            "\n-- migration {} ({})\n{}\n",
            m.version,
            m.description,
            m.sql.trim_end()
        ));
    }
    script.push_str(&format!(
        "\n-- the migrations above, as sqlx records them\n\
         CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (\n    \
         version BIGINT PRIMARY KEY,\n    \
         description TEXT NOT NULL,\n    \
         installed_on {},\n    \
         success BOOLEAN NOT NULL,\n    \
         checksum {} NOT NULL,\n    \
         execution_time BIGINT NOT NULL\n);\n",
        dialect.installed_on, dialect.checksum_type
    ));
    for m in migrations {
        let hex: String = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
        script.push_str(&format!(
            "INSERT INTO {MIGRATIONS_TABLE} (version, description, success, checksum, \
             execution_time) VALUES ({}, '{}', TRUE, {}, -1);\n",
            m.version,
            m.description.replace('\'', "''"),
            (dialect.checksum_literal)(&hex),
        ));
    }
    script
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    fn database() -> Home {
        Home::new("leasehold-sqlite", "database", "a database file", [1, 2])
    }

    fn schema() -> Home {
        Home::new("leasehold-postgres", "schema", "a schema", [1, 2]).named("jobs")
    }

    fn check(home: &Home, tables: &[&str], applied: &[i64]) -> Result<(), StoreError> {
        let tables: Vec<String> = tables.iter().map(|t| (*t).to_owned()).collect();
        block_on(home.check(&tables, || async { Ok(applied.to_vec()) }))
    }

    #[test]
    fn an_empty_home_is_new_and_its_versions_are_not_read() {
        let unread = block_on(database().check(&[], || async {
            Err(StoreError::backend("no migrations table to read"))
        }));

        assert!(unread.is_ok());
        assert!(check(&database(), &["jobs", MIGRATIONS_TABLE], &[1, 2]).is_ok());
    }

    #[test]
    fn tables_without_the_migrations_table_are_someone_elses() {
        let tables = ["users", "orders"];

        let database = check(&database(), &tables, &[]).unwrap_err().to_string();
        let schema = check(&schema(), &tables, &[]).unwrap_err().to_string();

        assert!(
            database.contains(
                "not a leasehold database: it holds tables (users, orders) but no \
                 _leasehold_migrations table; give leasehold a database file of its own"
            ),
            "{database}"
        );
        assert!(
            schema.contains("schema \"jobs\" is not a leasehold schema: it holds tables"),
            "{schema}"
        );
        assert!(
            schema.ends_with("give leasehold a schema of its own"),
            "{schema}"
        );
    }

    #[test]
    fn an_unknown_applied_version_was_written_by_a_newer_build() {
        let newer = check(&schema(), &[MIGRATIONS_TABLE], &[1, 2, 7, 5]).unwrap_err();

        assert!(matches!(newer, StoreError::Incompatible(_)));
        assert!(
            newer.to_string().ends_with(
                "schema \"jobs\" has schema version 7, written by a newer leasehold-postgres; \
                 this build knows versions up to 2: upgrade leasehold-postgres or use another \
                 schema"
            ),
            "{newer}"
        );
        assert!(
            database()
                .newer(9)
                .to_string()
                .contains("the database has schema version 9")
        );
    }

    #[test]
    fn a_changed_migration_names_the_package_that_wrote_it() {
        let message = database().mismatch(2).to_string();

        assert!(
            message.contains(
                "schema migration 2 of this database differs from this build's: it was \
                 written by a different leasehold-sqlite"
            ),
            "{message}"
        );
    }
}
