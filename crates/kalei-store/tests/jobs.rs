//! Job queue tests (see below).
