//! Statements with a variable number of values (IN lists, multi-row INSERTs), written once for
//! both backends.
//!
//! sqlx's `QueryBuilder` lends its arguments out only while it stays borrowed, which generic
//! code cannot express for every backend; this builder hands its text and arguments over
//! instead: `let (sql, args) = q.into_parts();` then `sqlx::query_with(&sql, args)`. Its text is
//! the one `QueryBuilder` would write (each backend's own placeholders).

use sqlx::{Arguments, Encode, Type};

pub(crate) struct Statement<'a, D: sqlx::Database> {
    sql: String,
    args: D::Arguments<'a>,
}

impl<'a, D: sqlx::Database> Statement<'a, D> {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Statement {
            sql: sql.into(),
            args: Default::default(),
        }
    }

    pub(crate) fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        use std::fmt::Write;
        write!(self.sql, "{sql}").expect("writing to a String cannot fail");
        self
    }

    pub(crate) fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'a + Encode<'a, D> + Type<D>,
    {
        self.args.add(value).expect("Failed to add argument");
        self.args
            .format_placeholder(&mut self.sql)
            .expect("error in format_placeholder");
        self
    }

    /// A list whose items are separated by `separator`.
    pub(crate) fn separated(&mut self, separator: &'static str) -> Separated<'_, 'a, D> {
        Separated {
            statement: self,
            separator,
            first: true,
        }
    }

    /// `VALUES (…), (…)`: one parenthesised row per item, its values pushed by `push_row`.
    pub(crate) fn push_values<I, F>(&mut self, items: I, mut push_row: F) -> &mut Self
    where
        I: IntoIterator,
        F: FnMut(Separated<'_, 'a, D>, I::Item),
    {
        self.push("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", (" });
            push_row(self.separated(", "), item);
            self.push(")");
        }
        self
    }

    /// The text and the values, for `sqlx::query_with` (or `query_as_with`, `query_scalar_with`).
    pub(crate) fn into_parts(self) -> (String, D::Arguments<'a>) {
        (self.sql, self.args)
    }
}

/// Values pushed one after another with a separator between them.
pub(crate) struct Separated<'s, 'a, D: sqlx::Database> {
    statement: &'s mut Statement<'a, D>,
    separator: &'static str,
    first: bool,
}

impl<'a, D: sqlx::Database> Separated<'_, 'a, D> {
    pub(crate) fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'a + Encode<'a, D> + Type<D>,
    {
        if !self.first {
            self.statement.push(self.separator);
        }
        self.first = false;
        self.statement.push_bind(value);
        self
    }
}
