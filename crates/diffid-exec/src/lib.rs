//! diffid-exec
