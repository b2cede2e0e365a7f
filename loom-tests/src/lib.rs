//! Loom harness for tasktree (filled in below).
