//! diffid
