//! Kalei server library.
