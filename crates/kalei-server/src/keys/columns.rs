//! Every column that holds sealed (encrypted) user text, with the associated
//! data its values are bound to. Handlers build their AAD strings from these
//! constants, and the re-encryption job walks this list, so a new sealed
//! column must be added here (a test compares the list with the migrations).

/// One sealed column: `table.column`, values bound to `<aad_label>:<user_id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedColumn {
    pub table: &'static str,
    pub column: &'static str,
    aad_label: &'static str,
}

impl SealedColumn {
    /// The associated data of this column's value owned by `user_id`.
    pub fn aad(&self, user_id: &str) -> String {
        format!("{}:{user_id}", self.aad_label)
    }
}

pub const MIRROR_MESSAGE_CONTENT: SealedColumn = SealedColumn {
    table: "mirror_messages",
    column: "content_sealed",
    aad_label: "mirror_messages.content",
};
pub const MIRROR_SESSION_REFLECTION: SealedColumn = SealedColumn {
    table: "mirror_sessions",
    column: "reflection_sealed",
    aad_label: "mirror_sessions.reflection",
};
pub const MIRROR_FRAGMENT_REFRAMES: SealedColumn = SealedColumn {
    table: "mirror_fragments",
    column: "reframes_sealed",
    aad_label: "mirror_fragments.reframes",
};
pub const TURN_THOUGHT: SealedColumn = SealedColumn {
    table: "turns",
    column: "thought_sealed",
    aad_label: "turns.thought",
};
pub const TURN_RESULT: SealedColumn = SealedColumn {
    table: "turns",
    column: "result_sealed",
    aad_label: "turns.result",
};
pub const LENS_GOAL_TITLE: SealedColumn = SealedColumn {
    table: "lens_goals",
    column: "title_sealed",
    aad_label: "lens_goals.title",
};
pub const LENS_ACTION_TITLE: SealedColumn = SealedColumn {
    table: "lens_actions",
    column: "title_sealed",
    aad_label: "lens_actions.title",
};
pub const PUSH_DEVICE_TOKEN: SealedColumn = SealedColumn {
    table: "push_devices",
    column: "token_sealed",
    aad_label: "push_devices.token",
};

/// The registry entry of `table.column`, if that column is sealed.
pub fn find(table: &str, column: &str) -> Option<&'static SealedColumn> {
    SEALED_COLUMNS
        .iter()
        .find(|c| c.table == table && c.column == column)
}

/// All of them, in a fixed order (the order the re-encryption job walks).
pub const SEALED_COLUMNS: &[SealedColumn] = &[
    MIRROR_MESSAGE_CONTENT,
    MIRROR_SESSION_REFLECTION,
    MIRROR_FRAGMENT_REFRAMES,
    TURN_THOUGHT,
    TURN_RESULT,
    LENS_GOAL_TITLE,
    LENS_ACTION_TITLE,
    PUSH_DEVICE_TOKEN,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A `*_sealed` column added by a migration but missing here would never
    /// be re-encrypted and would keep an old key alive forever.
    #[test]
    fn every_sealed_column_in_the_migrations_is_listed() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../kalei-store/migrations/sqlite"
        );
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let mut table = String::new();
            for line in sql.lines() {
                let line = line.trim();
                if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
                    table = rest.split_whitespace().next().unwrap_or("").to_string();
                } else if let Some(col) = line.split_whitespace().next() {
                    if col.ends_with("_sealed") {
                        found.push((table.clone(), col.to_string()));
                    }
                }
                if let Some(rest) = line.strip_prefix("ALTER TABLE ") {
                    let mut words = rest.split_whitespace();
                    let t = words.next().unwrap_or("");
                    if let Some(col) = words.skip_while(|w| *w != "COLUMN").nth(1) {
                        if col.ends_with("_sealed") {
                            found.push((t.to_string(), col.to_string()));
                        }
                    }
                }
            }
        }
        for (table, column) in &found {
            assert!(
                SEALED_COLUMNS
                    .iter()
                    .any(|c| c.table == table && c.column == column),
                "{table}.{column} holds sealed text but is not in SEALED_COLUMNS"
            );
        }
        assert_eq!(found.len(), SEALED_COLUMNS.len(), "{found:?}");
    }

    #[test]
    fn aad_strings_are_stable() {
        // Stored values are bound to these exact strings: changing one makes
        // every existing value of that column unreadable.
        assert_eq!(
            MIRROR_MESSAGE_CONTENT.aad("u1"),
            "mirror_messages.content:u1"
        );
        assert_eq!(TURN_RESULT.aad("u2"), "turns.result:u2");
        assert_eq!(LENS_ACTION_TITLE.aad("u3"), "lens_actions.title:u3");
    }
}
